"""Reading leads back for people: the report from page view to won revenue, the leads to export, sources.

For the marketer ("which pages and campaigns bring customers?"), for sales ("how fast do we
answer, what do we win?") and for tools that import CSV. Spam is left out unless asked for.

The report (`report`) is the one implementation behind the desk page, `flask --app capture
report` and the weekly digest. Every figure is an SQL aggregate over the period's rows, found
by an index on (spam, received_at) for leads and the unique index starting with `day` for
page views; Python only adds up the few grouped rows (formats.py writes them out).

The rows are bounded whatever the page views hold: every key with leads has its row, and of
the keys with views only, the VIEW_ROWS with most visitors; the rest are one row, REST. Any
stranger can send a beacon with a made-up campaign or referrer, so the views table can hold
tens of thousands of keys that no one would read; listed one per row they made the desk's page
15 s and 19 MB of HTML (bench/junk_beacons.py).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, desc, func, literal, or_, select, union_all
from sqlalchemy.engine import Engine

from capture.core.clock import utcnow
from capture.schema.forms import ATTRIBUTION_FIELDS, Schema
from capture.db.models import leads, page_views
from capture.pipeline import speed
from capture.pipeline.stages import STAGES
from capture.reports import meetings, rates
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
# The page_views column matched to each dimension by equal value. A page's views are all its
# views (the daily counts cannot tell a landing from a later view); a campaign's are the views
# of pages opened with its UTM values, which only a landing URL carries.
VIEW_KEYS = {"page": "path", "blog_post": "path", "landing_page": "path", "source": "utm_source",
             "medium": "utm_medium", "campaign": "utm_campaign", "referrer_host": "referrer_host"}
TOUCHES = ("first", "last")
UNKNOWN = "(direct or unknown)"  # no value for an attribution key: no UTM, no referrer, no script
NONE = "(none)"  # no service chosen, no owner
OTHER_PAGES = "(other pages)"  # by blog post: every page that is not a post
TOTAL = "(total)"
# Keys with views and no leads beyond the VIEW_ROWS with most visitors share one row. A site
# has tens of pages, campaigns and referring hosts a month that matter; a long tail of others
# (and whatever junk beacons made up) is one figure.
VIEW_ROWS = 100
REST = "(other keys, views only)"
ALL = speed.ALL  # speed to lead of all the period's leads, among those per key
# Blog posts are /blog/<slug>/ (mkdocs.yml: post_url_format "{slug}"); the blog's index, archive,
# category and page-2 lists are /blog/ or two levels deep.
BLOG_POST, BLOG_DEEPER = "/blog/_%/", "/blog/%/%/"
TOP_LOST_REASONS = 3
# The columns after the dimension's own, in order; the keys of every row (JSON, CSV header).
COLUMNS = ("views", "visitors", "leads", "conversion_rate", "contacted", *speed.COLUMNS,
           "consultations", *meetings.COLUMNS, "proposals", "won", "lost", "win_rate", "revenue_pence",
           "revenue_per_100_visitors_pence", "top_lost_reasons")
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
    viewed = and_(page_views.c.day >= since, page_views.c.day < until)
    with reading(engine) as conn:
        funnel, reasons = _merge(conn.execute(_leads(key, arrived)))
        speeds = speed.by_key(conn, key, arrived, calendar, now or utcnow())
        met = meetings.by_key(conn, key, arrived)  # a subset of the funnel's keys: the same leads
        views = None
        if by in VIEW_KEYS:
            view_key = _key(by, page_views.c[VIEW_KEYS[by]])
            views = {found: (seen, visitors)
                     for found, seen, visitors in conn.execute(_views_kept(view_key, viewed, set(funnel)))
                     if seen is not None}
        total_views = conn.execute(_views(None, viewed)).one() if views is None else None
    blank = blank_key(by)
    rows = [_row(by, found or blank, {**funnel.get(found, {}), **met.get(found, {})},
                 views.get(found) if views is not None else None, views is not None,
                 speeds.get(found, speed.Speed()), reasons.get(found, Counter()))
            for found in set(funnel) | set(views or ())]
    rows.sort(key=lambda r: (-r["leads"], -(r["visitors"] or 0), r[by]))
    if views is not None:  # every view is in exactly one row
        total_views = tuple(sum(r[name] for r in rows) for name in ("views", "visitors"))
    summed = {name: sum(r[name] for r in rows) for name in TALLIED}
    totals = _row(by, TOTAL, summed, total_views, True, speeds[ALL], sum(reasons.values(), Counter()))
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


def _views(key, viewed):
    sums = (func.coalesce(func.sum(page_views.c.views), 0).label("views"),
            func.coalesce(func.sum(page_views.c.visitors), 0).label("visitors"))
    if key is None:
        return select(*sums).where(viewed)
    return select(key, *sums).where(viewed).group_by(key)


def _views_kept(key, viewed, lead_keys: set):
    """Views and visitors per key: no key, the keys with leads, and the VIEW_ROWS most visited others; the rest as REST.

    One statement and one pass over the period's rows: the keys are grouped, the others ranked
    by visitors, then views (a window function, the same SQL on SQLite and PostgreSQL); the
    kept keys come out as they are, and those past VIEW_ROWS as one sum, so only a bounded
    number of rows reaches Python.
    """
    grouped = _views(key.label("key"), viewed).subquery("grouped")
    listed = or_(grouped.c.key.is_(None), grouped.c.key.in_(sorted(k for k in lead_keys if k is not None)))
    flagged = select(grouped, case((listed, 1), else_=0).label("listed")).subquery("flagged")
    rank = func.row_number().over(partition_by=flagged.c.listed,
                                  order_by=(flagged.c.visitors.desc(), flagged.c.views.desc(), flagged.c.key))
    ranked = select(flagged, rank.label("rank")).cte("ranked")  # read twice: made once
    kept = or_(ranked.c.listed == 1, ranked.c.rank <= VIEW_ROWS)
    # One row always (NULL sums when nothing is left over; the caller skips it): HAVING without
    # GROUP BY is new in SQLite 3.39.
    rest = select(literal(REST), func.sum(ranked.c.views), func.sum(ranked.c.visitors)).where(~kept)
    return union_all(select(ranked.c.key, ranked.c.views, ranked.c.visitors).where(kept), rest)


def _row(by: str, key: str, counts: dict, views, has_views: bool, fast: speed.Speed, reasons: Counter) -> dict:
    """One report row: the counts, and the rates worked out from them."""
    n = {name: int(counts.get(name) or 0) for name in TALLIED}
    visited, visitors = (int(views[0]), int(views[1])) if views is not None else (0, 0)
    decided = n["won"] + n["lost"]
    return {by: key, "views": visited if has_views else None, "visitors": visitors if has_views else None,
            "leads": n["leads"], "conversion_rate": _per_100(n["leads"], visitors),
            "contacted": n["contacted"], **fast.columns(),
            "consultations": n["consultations"], **{name: n[name] for name in meetings.COLUMNS}, "proposals": n["proposals"], "won": n["won"],
            "lost": n["lost"], "win_rate": rates.rate(n["won"], decided), "revenue_pence": n["revenue_pence"],
            "revenue_per_100_visitors_pence": round(100 * n["revenue_pence"] / visitors) if visitors else None,
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
