"""Leads and won revenue per week by source: the series behind the report page's weekly chart.

One SQL aggregate over the period's leads (spam left out, as in the report): each lead is put
in the week it arrived in (weeks start on Monday in the business time zone, so a week's edges
follow the clocks changing) and grouped by week and source. Python only ranks the few grouped
rows: the sources with most leads keep their own series, the rest become "(other sources)".

As in the report, a lead's revenue counts in the week the lead arrived, whenever it was won.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.engine import Engine

from capture.db.models import leads
from capture.reports.report import LEAD_KEYS, TOUCHES, UNKNOWN
from capture.db.engine import reading

MAX_WEEKS = 26  # a longer period is charted for its last 26 weeks (the table covers it all)
TOP_SOURCES = 5
OTHER = "(other sources)"


@dataclass(frozen=True)
class Trend:
    """Weekly series: `weeks` (each week's Monday), and per source one number per week."""
    weeks: list[date]
    sources: list[str] = field(default_factory=list)
    leads: dict[str, list[int]] = field(default_factory=dict)
    revenue: dict[str, list[int]] = field(default_factory=dict)  # minor units (pence)
    since: date | None = None  # the first day charted (later than asked when the period was cut)
    cut: bool = False  # True when the period was longer than MAX_WEEKS

    def week_totals(self, series: str) -> list[int]:
        values = getattr(self, series)
        return [sum(values[s][i] for s in self.sources) for i in range(len(self.weeks))]


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_by_source(engine: Engine, tz: ZoneInfo, since: date, until: date, touch: str = "first",
                     top: int = TOP_SOURCES) -> Trend:
    """Leads and won revenue per week (Monday first) and source, for leads from `since` up to `until`.

    `until` is the day after the last, as in `reports.report`. The source is the lead's first
    or last touch UTM source (`touch`); a lead without one is "(direct or unknown)".
    """
    if touch not in TOUCHES:
        raise ValueError("touch first or last")
    cut = (until - monday(since)).days > 7 * MAX_WEEKS
    if cut:
        since = monday(until - timedelta(days=1)) - timedelta(weeks=MAX_WEEKS - 1)
    weeks = []
    week = monday(since)
    while week < until:
        weeks.append(week)
        week += timedelta(weeks=1)
    edges = [_utc(day, tz) for day in (since, *weeks[1:], until)]
    # Week n holds what arrived before the start of week n + 1 (and on or after the first edge).
    index = case(*((leads.c.received_at < edge, n) for n, edge in enumerate(edges[1:-1])),
                 else_=len(weeks) - 1) if len(weeks) > 1 else None
    source = func.nullif(leads.c[LEAD_KEYS["source"][TOUCHES.index(touch)]], "")
    arrived = and_(leads.c.spam.is_(False), leads.c.received_at >= edges[0], leads.c.received_at < edges[-1])
    won = case((leads.c.status == "won", leads.c.deal_value), else_=0)
    # A subquery, so that GROUP BY names its columns instead of repeating the CASE with its
    # parameters (which PostgreSQL would not recognise as the same expression).
    inner = select((index if index is not None else literal(0)).label("week"),
                   source.label("source"), won.label("won")).where(arrived).subquery()
    query = (select(inner.c.week, inner.c.source, func.count().label("leads"),
                    func.coalesce(func.sum(inner.c.won), 0).label("revenue"))
             .group_by(inner.c.week, inner.c.source))
    with reading(engine) as conn:
        found = [(int(w), s or UNKNOWN, int(n), int(r or 0)) for w, s, n, r in conn.execute(query)]
    per_source: dict[str, int] = {}
    for _, name, n, _ in found:
        per_source[name] = per_source.get(name, 0) + n
    ranked = sorted(per_source, key=lambda name: (-per_source[name], name))
    kept = ranked[:top] if len(ranked) <= top else ranked[:top - 1]
    sources = kept + ([OTHER] if len(ranked) > len(kept) else [])
    series = {name: [0] * len(weeks) for name in sources}
    money = {name: [0] * len(weeks) for name in sources}
    for week_n, name, n, revenue in found:
        name = name if name in kept else OTHER
        series[name][week_n] += n
        money[name][week_n] += revenue
    return Trend(weeks, sources, series, money, since, cut)


def _utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
