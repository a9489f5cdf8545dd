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

from sqlalchemy import BigInteger, and_, case, cast, desc, func, literal, null, select, union_all
from sqlalchemy.engine import Engine

from capture.core.clock import utcnow
from capture.schema.forms import ATTRIBUTION_FIELDS, Schema
from capture.db.models import leads
from capture.pipeline.stages import STAGES
from capture.reports import meetings, traffic
from capture.reports.traffic import REST, Traffic  # noqa: F401 -- REST: a row key, as report.UNKNOWN is
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
ALL = object()  # the median of all the period's leads, among those per key
# Blog posts are /blog/<slug>/ (mkdocs.yml: post_url_format "{slug}"); the blog's index, archive,
# category and page-2 lists are /blog/ or two levels deep.
BLOG_POST, BLOG_DEEPER = "/blog/_%/", "/blog/%/%/"
TOP_LOST_REASONS = 3
# The columns after the dimension's own, in order; the keys of every row (JSON, CSV header).
COLUMNS = ("views", "visitors", "visits", "bounce_rate", "leads", "leads_per_100_visits", "contacted",
           "median_first_contact_minutes", "consultations", *meetings.COLUMNS, "proposals", "won", "lost",
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
           since: date | None = None, until: date | None = None) -> Report:
    """Views to won revenue per `by` value, for leads that arrived from `since` up to `until`.

    A lead counts in the period it arrived in; how far it got since counts with it (a lead of
    March won in May is March's revenue), so every rate compares like with like.
    """
    if by not in LEAD_KEYS or touch not in TOUCHES:
        raise ValueError(f"report by one of {', '.join(DIMENSIONS)}, touch first or last")
    default = default_period(tz)
    since, until = since or default[0], until or default[1]
    column = leads.c[LEAD_KEYS[by][TOUCHES.index(touch)]]
    key = _key(by, column).label("key")
    start, end = (datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc) for day in (since, until))
    arrived = and_(leads.c.spam.is_(False), leads.c.received_at >= start, leads.c.received_at < end)
    with reading(engine) as conn:
        funnel, reasons, medians = _merge(conn.execute(_leads(key, arrived)))
        met = meetings.by_key(conn, key, arrived)  # a subset of the funnel's keys: the same leads
        views = (traffic.by_key(conn, by, lambda found: _key(by, found), since, until, set(funnel))
                 if by in traffic.DIMENSIONS else None)
        whole = traffic.totals(conn, since, until)
    blank = NONE if by in ("service", "owner") else UNKNOWN
    rows = [_row(by, found or blank, {**funnel.get(found, {}), **met.get(found, {})},
                 views.get(found, Traffic()) if views is not None else None, medians.get(found),
                 reasons.get(found, Counter()))
            for found in set(funnel) | set(views or ())]
    rows.sort(key=lambda r: (-r["leads"], -(r["visitors"] or 0), r[by]))
    summed = {name: sum(r[name] for r in rows) for name in TALLIED}
    totals = _row(by, TOTAL, summed, whole, medians.get(ALL), sum(reasons.values(), Counter()))
    return Report(by, touch, since, until, rows, totals)


def _key(by: str, column):
    """The grouping expression: empty text as NULL; by blog post, non-posts as one key."""
    value = func.nullif(column, "")
    if by != "blog_post":
        return value
    post = and_(column.like(BLOG_POST), column.not_like(BLOG_DEEPER))
    return case((post, column), (value.is_(None), None), else_=OTHER_PAGES)


def _leads(key, arrived):
    """Everything about the period's leads, in one statement and one pass over them.

    `base` groups the leads by key, lost reason and whole minutes to first contact (a few
    thousand groups from a month's leads, tens of thousands from years'), counting how far they
    got. From it, the statement returns rows of three parts, in the funnel's columns:
    - "funnel": per key and lost reason, the counts (only lost leads have a reason, so a key's
      rows are its other leads and its lost ones by reason; `_merge` adds them up);
    - "median": per key, the median working minutes to first contact; "all": of every lead.
    A median comes from the histogram of minutes: running totals over its groups (window
    functions, the same SQL on SQLite and PostgreSQL) find the middle one or two values.
    On SQLite, numbering the leads themselves in a window was up to 2.6× slower, and a second
    pass for the histogram 1.3–1.6× over a year or more (bench/report.py); on PostgreSQL the
    two ways were within noise. Leads not contacted yet, and those first contacted before the
    column existed, have no time and are left out of the median only.
    """
    def count(condition, value=1):
        return func.sum(case((condition, value), else_=0))
    minutes = leads.c.first_response_minutes
    base = (select(key, leads.c.lost_reason, minutes.label("minutes"), func.count().label("leads"),
                   func.count(leads.c.first_contact_at).label("contacted"),
                   count(leads.c.stage_reached >= STAGES["consultation"]).label("consultations"),
                   count(leads.c.stage_reached >= STAGES["proposal"]).label("proposals"),
                   count(leads.c.status == "won").label("won"),
                   count(leads.c.status == "lost").label("lost"),
                   count(leads.c.status == "won", leads.c.deal_value).label("revenue_pence"))
            .where(arrived).group_by(key, leads.c.lost_reason, minutes).cte("base"))
    funnel = select(literal("funnel").label("part"), base.c.key, base.c.lost_reason,
                    *(func.sum(base.c[name]).label(name) for name in COUNTS),
                    null().label("median")).group_by(base.c.key, base.c.lost_reason)
    histogram = (select(base.c.key, base.c.minutes, func.sum(base.c.leads).label("n"))
                 .where(base.c.minutes.is_not(None)).group_by(base.c.key, base.c.minutes).cte("histogram"))
    whole = (select(histogram.c.minutes, func.sum(histogram.c.n).label("n"))
             .group_by(histogram.c.minutes).subquery("whole"))
    blanks = [null()] * (len(COUNTS) + 1)  # lost_reason and the counts
    keyed, key_median = _middle(histogram, histogram.c.key)
    overall, median = _middle(whole, None)
    return union_all(funnel,
                     select(literal("median"), keyed.c.key, *blanks, key_median).group_by(keyed.c.key),
                     select(literal("all"), null(), *blanks, median))


def _middle(histogram, key):
    """(ranked, median): the median of each key's (minutes, n) histogram, or of all when `key` is None."""
    partition = {"partition_by": key} if key is not None else {}

    def running(**order):  # an integer on both databases, so that // divides as integers
        return cast(func.sum(histogram.c.n).over(**partition, **order), BigInteger)
    ranked = select(*([key] if key is not None else []), histogram.c.minutes,
                    running(order_by=histogram.c.minutes).label("upto"), running().label("total")).subquery()
    low, high = (ranked.c.total + 1) // 2, (ranked.c.total + 2) // 2
    median = (func.min(case((ranked.c.upto >= low, ranked.c.minutes)))
              + func.min(case((ranked.c.upto >= high, ranked.c.minutes)))) / 2.0
    return ranked, median


def _merge(found) -> tuple[dict, dict, dict]:
    """({key: counts}, {key: Counter of lost reasons}, {key or ALL: median}) from `_leads`' rows."""
    funnel: dict = {}
    reasons: dict = {}
    medians: dict = {}
    for row in found:
        if row.part == "funnel":
            funnel.setdefault(row.key, Counter()).update({name: int(row._mapping[name]) for name in COUNTS})
            if row.lost_reason is not None:
                reasons.setdefault(row.key, Counter())[row.lost_reason] += int(row.lost)
        else:
            medians[ALL if row.part == "all" else row.key] = row.median
    return funnel, reasons, medians


def _row(by: str, key: str, counts: dict, seen: Traffic | None, median, reasons: Counter) -> dict:
    """One report row: the counts, and the rates worked out from them (`seen` None: no traffic of its own)."""
    n = {name: int(counts.get(name) or 0) for name in TALLIED}
    visits = seen.visits if seen is not None else 0
    decided = n["won"] + n["lost"]
    return {by: key, "views": seen and seen.views, "visitors": seen and seen.visitors,
            "visits": seen and seen.visits,
            "bounce_rate": _per_100(seen.bounces, visits) if seen is not None and seen.bounces is not None else None,
            "leads": n["leads"], "leads_per_100_visits": _per_100(n["leads"], visits),
            "contacted": n["contacted"],
            "median_first_contact_minutes": round(float(median), 1) if median is not None else None,
            "consultations": n["consultations"], **{name: n[name] for name in meetings.COLUMNS},
            "proposals": n["proposals"], "won": n["won"], "lost": n["lost"], "win_rate": _per_100(n["won"], decided),
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
