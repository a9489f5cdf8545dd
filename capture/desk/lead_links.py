"""From a report row to its leads: the inbox link the report writes, and the narrowing the inbox reads.

A row of the report is the leads with one key (a source, a page, an owner…) at the first or last
touch that arrived from one day to another; its link opens the inbox with those same conditions
(pipeline/search.py ATTRIBUTION), every status and every owner, so the inbox lists exactly the
row's leads. The two directions live here so that they cannot drift apart.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from capture.core.formatting import short_date
from capture.pipeline import search
from capture.reports import report
from capture.schema.checks import DATE_RE

# The report's grouping: the inbox parameter holding its key.
PARAMETERS = {"page": "page", "blog_post": "page", "landing_page": "landing", "source": "source",
              "medium": "medium", "campaign": "campaign", "referrer_host": "referrer", "form": "form",
              "service": "service", "owner": "owner"}
LABELS = {"source": "source", "medium": "medium", "campaign": "campaign", "landing": "landing page",
          "page": "page", "referrer": "referrer", "form": "form", "service": "service", "owner": "owner"}
NARROWING = ("touch", "source", "medium", "landing", "page", "referrer", "since", "until")
VALUE_MAX = 300  # the longest stored key (a page's path)
DAYS = (date(2000, 1, 1), date(2099, 12, 31))  # as the report page: beyond these, a typo
NO_LINK = frozenset({report.OTHER_PAGES, report.REST})  # rows that are not one key's leads


def row_params(by: str, touch: str, key: str, since: date, until: date) -> dict | None:
    """The inbox's parameters for a report row's leads (`until` included), None for a row of no one key."""
    if key in NO_LINK:
        return None
    params = {"status": "all", "owner": "", "touch": touch, "since": since.isoformat(), "until": until.isoformat()}
    if key != report.TOTAL:
        params[PARAMETERS[by]] = search.NOT_SET if key == report.blank_key(by) else key
    return params


def narrowing(args, tz: ZoneInfo) -> dict:
    """search.Filters' arguments from a row's link (touch, attribution, arrival days); ValueError names a bad one."""
    touch = args.get("touch", "first")
    if touch not in search.TOUCHES:
        raise ValueError("Credit: choose the first or the last touch.")
    # The campaign is one of the inbox's own filters (views.py reads it).
    found = {"touch": touch, **{name: args.get(name, "")[:VALUE_MAX]
                                for name in search.ATTRIBUTION if name != "campaign"}}
    since, until = _day(args, "since", "From"), _day(args, "until", "Until")
    if since and until and since > until:
        raise ValueError(f"From: {short_date(since)} is after the last day, {short_date(until)}.")
    found["received_from"] = _utc(since, tz) if since else None
    found["received_before"] = _utc(until + timedelta(days=1), tz) if until else None
    return found


def described(args) -> list[str]:
    """The narrowing in words for the inbox's heading, e.g. ['source: google (first touch)', 'from 2 Nov 2026']."""
    touch = "last" if args.get("touch") == "last" else "first"
    said = [f"{LABELS[name]}: {'none recorded' if value == search.NOT_SET else value} ({touch} touch)"
            for name in search.ATTRIBUTION if (value := args.get(name, "")[:VALUE_MAX])]
    # The owner and service selects offer no "none": say so here when a row asked for it.
    said += [f"no {name}" for name in ("owner", "service") if args.get(name) == search.NOT_SET]
    for name, word in (("since", "from"), ("until", "until")):
        day = args.get(name, "")
        if DATE_RE.match(day) and _valid(day):
            said.append(f"{word} {short_date(date.fromisoformat(day))}")
    return said


def kept(args) -> dict:
    """The narrowing's parameters as asked, for the inbox's filter form to send again."""
    return {name: args[name][:VALUE_MAX] for name in NARROWING if args.get(name)}


def _day(args, name: str, label: str) -> date | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if DATE_RE.match(text) else None
    except ValueError:
        day = None
    if day is None or not DAYS[0] <= day <= DAYS[1]:
        raise ValueError(f"{label}: '{text[:20]}' is not a date the inbox can use; write it like 2026-11-03 "
                         f"(between {DAYS[0].year} and {DAYS[1].year}).")
    return day


def _valid(text: str) -> bool:
    try:
        return DAYS[0] <= date.fromisoformat(text) <= DAYS[1]
    except ValueError:
        return False


def _utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
