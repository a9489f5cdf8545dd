"""Visitors, leads and won revenue over time, per key of the report's grouping: the charts' series.

The period is cut into bars as a web analytics tool does (Plausible's main graph): a day each
for 31 days or less, a week (Monday first, in the business time zone, so a week's edges follow
the clocks changing) up to 26 weeks, a calendar month above. A longer period is charted for its
last MAX_BARS bars (the table covers it all).

Two SQL aggregates: the period's leads (spam left out, as in the report) by bar and by the
report's own key (`report.lead_key`, first or last touch), and the page views' visitors by day
(the report's "visitors": summed over the day's rows). Python only ranks the few grouped rows:
the keys with most leads keep their own series, the rest become "(others)".

As in the report, a lead and its revenue count in the bar the lead arrived in, whenever it was won.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.engine import Engine

from capture.db.engine import reading
from capture.db.models import leads, page_views
from capture.reports.report import DIMENSIONS, TOUCHES, blank_key, lead_key

DAILY_UP_TO = 31  # days: a bar a day; above, a bar a week
WEEKLY_UP_TO = 26 * 7  # days: a bar a week; above, a bar a month
MAX_BARS = {"day": DAILY_UP_TO, "week": 26, "month": 36}
TOP_KEYS = 5
OTHER = "(others)"


@dataclass(frozen=True)
class Trend:
    """Series over `bars` (each bar's first day, a `grain` apart): per key, leads and revenue; visitors in all."""
    grain: str  # "day", "week" or "month"
    bars: list[date]
    keys: list[str] = field(default_factory=list)
    leads: dict[str, list[int]] = field(default_factory=dict)
    revenue: dict[str, list[int]] = field(default_factory=dict)  # minor units (pence)
    visitors: list[int] = field(default_factory=list)
    since: date | None = None  # the first day charted (later than asked when the period was cut)
    cut: bool = False  # True when the period had more than MAX_BARS bars

    def totals(self, series: str) -> list[int]:
        """Each bar's sum over the keys of "leads" or "revenue"."""
        values = getattr(self, series)
        return [sum(values[k][i] for k in self.keys) for i in range(len(self.bars))]


def grain_for(since: date, until: date) -> str:
    """A bar a day for 31 days or less, a week up to 26 weeks, a month above (`until` is the day after)."""
    days = (until - since).days
    return "day" if days <= DAILY_UP_TO else "week" if days <= WEEKLY_UP_TO else "month"


def bar_start(day: date, grain: str) -> date:
    """The first day of the bar `day` falls in."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if grain == "month" else day


def next_bar(start: date, grain: str) -> date:
    if grain == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=7 if grain == "week" else 1)


def bars_of(since: date, until: date, grain: str) -> tuple[list[date], date, bool]:
    """(the bars' first days, the first day charted, whether the period was cut to MAX_BARS)."""
    bars = [bar_start(since, grain)]
    while next_bar(bars[-1], grain) < until:
        bars.append(next_bar(bars[-1], grain))
    cut = len(bars) > MAX_BARS[grain]
    if cut:
        bars = bars[-MAX_BARS[grain]:]
        since = bars[0]
    return bars, since, cut


def over_time(engine: Engine, tz: ZoneInfo, since: date, until: date, by: str = "source", touch: str = "first",
              top: int = TOP_KEYS, label: Callable[[str], str] = str) -> Trend:
    """Leads and won revenue per bar and `by` key, and visitors per bar, from `since` up to `until`.

    `until` is the day after the last, as in `reports.report`; `label` names a key for people
    (an owner's name, a page's title) before keys are ranked and merged.
    """
    if by not in DIMENSIONS or touch not in TOUCHES:
        raise ValueError(f"over time by one of {', '.join(DIMENSIONS)}, touch first or last")
    grain = grain_for(since, until)
    bars, since, cut = bars_of(since, until, grain)
    edges = [_utc(day, tz) for day in (since, *bars[1:], until)]
    with reading(engine) as conn:
        found = list(conn.execute(_leads_query(edges, lead_key(by, touch))))
        daily = list(conn.execute(_visitors_query(since, until)))
    visitors = [0] * len(bars)
    for day, n in daily:
        visitors[bisect_right(bars, day) - 1] += int(n or 0)
    rows = [(int(n), label(key) if key is not None else blank_key(by), int(count), int(won or 0))
            for n, key, count, won in found]
    keys, leads_by, money_by = _series(rows, len(bars), top)
    return Trend(grain, bars, keys, leads_by, money_by, visitors, since, cut)


def _leads_query(edges: list[datetime], key):
    """Per bar and key: leads and won revenue (`edges`: each bar's start, then the end of the last)."""
    index = _bar_of(leads.c.received_at, edges[:-1], 0, len(edges) - 2)
    arrived = and_(leads.c.spam.is_(False), leads.c.received_at >= edges[0], leads.c.received_at < edges[-1])
    won = case((leads.c.status == "won", leads.c.deal_value), else_=0)
    # A subquery, so that GROUP BY names its columns instead of repeating the CASE with its
    # parameters (which PostgreSQL would not recognise as the same expression).
    inner = select(index.label("bar"), key.label("key"), won.label("won")).where(arrived).subquery()
    return (select(inner.c.bar, inner.c.key, func.count().label("leads"),
                   func.coalesce(func.sum(inner.c.won), 0).label("revenue"))
            .group_by(inner.c.bar, inner.c.key))


def _bar_of(column, starts: list[datetime], low: int, high: int):
    """The bar (low to high) a time falls in, as nested CASEs halving the bars: about log2(bars)
    comparisons a lead instead of one per bar. With 200,000 leads on SQLite a flat CASE was up to
    1.4× slower over 3 years (36 bars) and up to 2× over 30 days (bench/report.py's history)."""
    if low == high:
        return literal(low)
    middle = (low + high + 1) // 2  # the first bar of the upper half
    return case((column < starts[middle], _bar_of(column, starts, low, middle - 1)),
                else_=_bar_of(column, starts, middle, high))


def _visitors_query(since: date, until: date):
    """Visitors per day (a few hundred rows at most: the period is cut to MAX_BARS)."""
    return (select(page_views.c.day, func.sum(page_views.c.visitors))
            .where(page_views.c.day >= since, page_views.c.day < until).group_by(page_views.c.day))


def _series(rows: list[tuple], n: int, top: int) -> tuple[list[str], dict, dict]:
    """(keys, leads per key, revenue per key): the `top` keys by leads, the others as OTHER."""
    per_key: dict[str, int] = {}
    for _, key, count, _ in rows:
        per_key[key] = per_key.get(key, 0) + count
    ranked = sorted(per_key, key=lambda key: (-per_key[key], key))
    kept = ranked[:top] if len(ranked) <= top else ranked[:top - 1]
    keys = kept + ([OTHER] if len(ranked) > len(kept) else [])
    leads_by = {key: [0] * n for key in keys}
    money_by = {key: [0] * n for key in keys}
    for bar, key, count, revenue in rows:
        key = key if key in kept else OTHER
        leads_by[key][bar] += count
        money_by[key][bar] += revenue
    return keys, leads_by, money_by


def _utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
