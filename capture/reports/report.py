"""Reading leads back for people: the report from page view to won revenue, the leads to export, sources.

For the marketer ("which pages and campaigns bring customers?"), for sales ("how fast do we
answer, what do we win?") and for tools that import CSV. Spam is left out unless asked for.

The report (`report`) is the one implementation behind the desk page, `flask --app capture
report` and the weekly digest. Every figure is an SQL aggregate over the period's rows, found
by an index on (spam, received_at) for leads and indexes starting with `day` for page views
and visits; Python only adds up the few grouped rows (formats.py writes them out). The
traffic side (views, visitors, visits, bounces, and the bound on its rows) is traffic.py.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, desc, func, select
from sqlalchemy.engine import Engine

from capture.core.clock import utcnow
from capture.schema.forms import ATTRIBUTION_FIELDS, Schema
from capture.db.models import leads
from capture.pipeline import speed
from capture.pipeline.stages import STAGES
from capture.reports import meetings, rates, traffic
from capture.reports.traffic import REST, Traffic  # noqa: F401 -- REST: a row key, as report.UNKNOWN is
from capture.schema.worktime import Calendar
from capture.db.engine import reading

LEAD_COLUMNS = ("id", "received_at", "form_id", "status", "spam", "consent_version", "consent_at")
SOURCE_DIMENSIONS = {
    "source": leads.c.first_utm_source, "medium": leads.c.first_utm_medium,
    "campaign": leads.c.first_utm_campaign, "landing-page": leads.c.landing_page,
    "page": leads.c.page_url, "referrer": leads.c.first_referrer, "form": leads.c.form_id,
}

# --- the report: what it can be grouped by -----------------------------------------------
# The touch picks which of the lead's two recorded visits is credited: the first (the landing
# page, its referrer and UTM values, kept by forms.js from the first visit) or the last (the page
# the form was sent from, with its referrer and UTM values). The landing page is the first
# visit's by definition; form, service and owner belong to the lead, whatever the touch.
# The lead's own fields, not the visits table (which knows no one), so a lead that came on a
# campaign visit is the campaign's, as that visit and all its views are (traffic.py).
LEAD_KEYS = {  # dimension: (first-touch column, last-touch column)
    "page": ("first_page", "last_page"),
    "blog_post": ("first_page", "last_page"),
    "landing_page": ("first_page", "first_page"),
    "source": ("first_utm_source", "last_utm_source"),
    "medium": ("first_utm_medium", "last_utm_medium"),
    "campaign": ("first_utm_campaign", "last_utm_campaign"),
    "referrer_host": ("first_referrer_host", "last_referrer_host"),
    "form": ("form_id", "form_id"),
    "service": ("service", "service"),
    "owner": ("owner", "owner"),
}
DIMENSIONS = tuple(LEAD_KEYS)
TOUCHES = ("first", "last")
UNKNOWN = "(direct or unknown)"  # no value for an attribution key: no UTM, no referrer, no script
NONE = "(none)"  # no service chosen, no owner
OTHER_PAGES = "(other pages)"  # by blog post: every page that is not a post
TOTAL = "(total)"
ALL = speed.ALL  # speed to lead of all the period's leads, among those per key
# Blog posts are /blog/<slug>/ (mkdocs.yml: post_url_format "{slug}"); the blog's index, archive,
# category and page-2 lists are /blog/ or two levels deep.
BLOG_POST, BLOG_DEEPER = "/blog/_%/", "/blog/%/%/"
TOP_LOST_REASONS = 3
# The columns after the dimension's own, in order; the keys of every row (JSON, CSV header).
COLUMNS = ("views", "visitors", "visits", "bounce_rate", "leads", "leads_per_100_visits", "contacted",
           *speed.COLUMNS, "consultations", *meetings.COLUMNS, "proposals", "won", "lost",
           "win_rate", "revenue_pence", "revenue_per_100_visits_pence", "top_lost_reasons")
COUNTS = ("leads", "contacted", "consultations", "proposals", "won", "lost", "revenue_pence")
TALLIED = (*COUNTS, *meetings.COLUMNS)  # what a row and the totals add up


@dataclass(frozen=True)
class Report:
    """The report's rows (one per key, most leads first) and their totals, for one period.

    `since` is the first day and `until` the day after the last, in the business time zone.
    """
    by: str
    touch: str
    since: date
    until: date
    rows: list[dict] = field(default_factory=list)
    totals: dict = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.by, *COLUMNS)

    def records(self) -> list[dict]:
        """Every row, then the totals row (its key is "(total)")."""
        return [*self.rows, self.totals]


def default_period(tz: ZoneInfo, now: datetime | None = None, days: int = 30) -> tuple[date, date]:
    """The last `days` days, today included: (first day, the day after today)."""
    today = (now or utcnow()).astimezone(tz).date()
    return today - timedelta(days=days - 1), today + timedelta(days=1)


def report(engine: Engine, tz: ZoneInfo, by: str = "campaign", touch: str = "first",
           since: date | None = None, until: date | None = None, *, calendar: Calendar,
           now: datetime | None = None) -> Report:
    """Views to won revenue per `by` value, for leads that arrived from `since` up to `until`.

    A lead counts in the period it arrived in; how far it got since counts with it (a lead of
    March won in May is March's revenue), so every rate compares like with like. Speed to lead
    is pipeline/speed.py's, with the leads still waiting aged in `calendar`'s working time at
    `now` (the injected clock's).
    """
    if by not in LEAD_KEYS or touch not in TOUCHES:
        raise ValueError(f"report by one of {', '.join(DIMENSIONS)}, touch first or last")
    default = default_period(tz)
    since, until = since or default[0], until or default[1]
    key = lead_key(by, touch).label("key")
    start, end = (datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc) for day in (since, until))
    arrived = and_(leads.c.spam.is_(False), leads.c.received_at >= start, leads.c.received_at < end)
    with reading(engine) as conn:
        funnel, reasons = _merge(conn.execute(_leads(key, arrived)))
        speeds = speed.by_key(conn, key, arrived, calendar, now or utcnow())
        met = meetings.by_key(conn, key, arrived)  # a subset of the funnel's keys: the same leads
        views = (traffic.by_key(conn, by, lambda found: _key(by, found), since, until, set(funnel))
                 if by in traffic.DIMENSIONS else None)
        whole = traffic.totals(conn, since, until)
    blank = blank_key(by)
    rows = [_row(by, found or blank, {**funnel.get(found, {}), **met.get(found, {})},
                 views.get(found, Traffic()) if views is not None else None,
                 speeds.get(found, speed.Speed()), reasons.get(found, Counter()))
            for found in set(funnel) | set(views or ())]
    rows.sort(key=lambda r: (-r["leads"], -(r["visitors"] or 0), r[by]))
    summed = {name: sum(r[name] for r in rows) for name in TALLIED}
    totals = _row(by, TOTAL, summed, whole, speeds[ALL], sum(reasons.values(), Counter()))
    return Report(by, touch, since, until, rows, totals)


def lead_key(by: str, touch: str):
    """What the report groups the leads by: `by` at the first or last `touch` (NULL for none)."""
    return _key(by, leads.c[LEAD_KEYS[by][TOUCHES.index(touch)]])


def blank_key(by: str) -> str:
    """The row for leads without a value: no owner or service is "(none)"; no source, "(direct or unknown)"."""
    return NONE if by in ("service", "owner") else UNKNOWN


def _key(by: str, column):
    """The grouping expression: empty text as NULL; by blog post, non-posts as one key."""
    value = func.nullif(column, "")
    if by != "blog_post":
        return value
    post = and_(column.like(BLOG_POST), column.not_like(BLOG_DEEPER))
    return case((post, column), (value.is_(None), None), else_=OTHER_PAGES)


def _leads(key, arrived):
    """Everything about the period's leads but speed to lead, in one statement and one pass over them.

    Per key and lost reason, the counts (only lost leads have a reason, so a key's rows are its
    other leads and its lost ones by reason; `_merge` adds them up). Speed to lead is
    pipeline/speed.py's: one definition for the report and a lead's own page.
    """
    def count(condition, value=1):
        return func.sum(case((condition, value), else_=0))
    return (select(key, leads.c.lost_reason, func.count().label("leads"),
                   func.count(leads.c.first_contact_at).label("contacted"),
                   count(leads.c.stage_reached >= STAGES["consultation"]).label("consultations"),
                   count(leads.c.stage_reached >= STAGES["proposal"]).label("proposals"),
                   count(leads.c.status == "won").label("won"),
                   count(leads.c.status == "lost").label("lost"),
                   count(leads.c.status == "won", leads.c.deal_value).label("revenue_pence"))
            .where(arrived).group_by(key, leads.c.lost_reason))


def _merge(found) -> tuple[dict, dict]:
    """({key: counts}, {key: Counter of lost reasons}) from `_leads`' rows."""
    funnel: dict = {}
    reasons: dict = {}
    for row in found:
        funnel.setdefault(row.key, Counter()).update({name: int(row._mapping[name]) for name in COUNTS})
        if row.lost_reason is not None:
            reasons.setdefault(row.key, Counter())[row.lost_reason] += int(row.lost)
    return funnel, reasons


def _row(by: str, key: str, counts: dict, seen: Traffic | None, fast: speed.Speed, reasons: Counter) -> dict:
    """One report row: the counts, and the rates worked out from them (`seen` None: no traffic of its own)."""
    n = {name: int(counts.get(name) or 0) for name in TALLIED}
    visits = seen.visits if seen is not None else 0
    decided = n["won"] + n["lost"]
    return {by: key, "views": seen and seen.views, "visitors": seen and seen.visitors,
            "visits": seen and seen.visits,
            "bounce_rate": _per_100(seen.bounces, visits) if seen is not None and seen.bounces is not None else None,
            "leads": n["leads"], "leads_per_100_visits": _per_100(n["leads"], visits),
            "contacted": n["contacted"], **fast.columns(),
            "consultations": n["consultations"], **{name: n[name] for name in meetings.COLUMNS},
            "proposals": n["proposals"], "won": n["won"], "lost": n["lost"], "win_rate": rates.rate(n["won"], decided),
            "revenue_pence": n["revenue_pence"],
            "revenue_per_100_visits_pence": round(100 * n["revenue_pence"] / visits) if visits else None,
            "top_lost_reasons": sorted(reasons.items(), key=lambda r: (-r[1], r[0]))[:TOP_LOST_REASONS]}


def _per_100(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


# --- the leads themselves ------------------------------------------------------------------

def _period(query, since: datetime | None, until: datetime | None, include_spam: bool):
    if since:
        query = query.where(leads.c.received_at >= since)
    if until:
        query = query.where(leads.c.received_at < until)
    if not include_spam:
        query = query.where(leads.c.spam.is_(False))
    return query


def export_columns(schema: Schema) -> list[str]:
    """Lead columns, every form field (in schema order, once), then attribution."""
    fields = []
    for form in schema.forms.values():
        fields += [f.name for f in form.fields if f.name not in fields]
    return [*LEAD_COLUMNS, *fields, *ATTRIBUTION_FIELDS]


def lead_rows(engine: Engine, since=None, until=None, include_spam=False) -> Iterable[dict]:
    """Leads in the period, oldest first, one flat dict each."""
    query = _period(select(leads), since, until, include_spam).order_by(leads.c.received_at)
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            yield {**row["data"], **{k: v for k, v in row.items() if k != "data"},
                   "received_at": row["received_at"].isoformat(),
                   "consent_at": row["consent_at"].isoformat() if row["consent_at"] else ""}


def lead_sources(engine: Engine, by: str, since=None, until=None, limit: int = 20) -> list[tuple[str, int]]:
    """Lead counts per source dimension (e.g. campaign), most first; '(none)' for direct."""
    column = SOURCE_DIMENSIONS[by]
    query = _period(select(column, func.count().label("n")), since, until, include_spam=False)
    query = query.group_by(column).order_by(desc("n"), column).limit(limit)
    with engine.connect() as conn:
        return [(value or "(none)", n) for value, n in conn.execute(query)]
