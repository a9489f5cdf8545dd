"""The report's traffic figures per key: views, unique visitors, visits and one-page visits.

Entry dimensions (source, medium, campaign, referring host, landing page) read `visits`
(traffic/visits.py): a visit and all its views count for where it began, so a campaign
visit's later pages are the campaign's, and a landing page counts the visits that began there.
A key's visitors are the visits that were their visitor's first of the day with that value.
Pages (and blog posts) read `page_views`: every view of the page, its visitors, and the visits
that viewed it; a bounce belongs to the page a visit began on, so pages have none ("–").

The rows are bounded whatever the tables hold: every key with leads has its row, and of the
keys with traffic only, the VIEW_ROWS with most visitors; the rest are one row, REST. Any
stranger can send a beacon with a made-up campaign or referrer, so there can be tens of
thousands of keys that no one would read; listed one per row they made the desk's page 15 s
and 19 MB of HTML (bench/junk_beacons.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from sqlalchemy import Integer, case, cast, func, literal, null, or_, select, union_all
from sqlalchemy.engine import Connection

from capture.db.models import page_views, visits
from capture.traffic.visits import ALL, ENTRY

PAGE_KEYS = {"page": "path", "blog_post": "path"}
DIMENSIONS = (*PAGE_KEYS, *ENTRY)  # the report's dimensions with traffic of their own
VIEW_ROWS = 100
REST = "(other keys, views only)"


@dataclass(frozen=True)
class Traffic:
    """What a row (or the period) had: views, unique visitors, visits, one-page visits (None for a page)."""
    views: int = 0
    visitors: int = 0
    visits: int = 0
    bounces: int | None = 0


def by_key(conn: Connection, by: str, key: Callable, since: date, until: date, lead_keys: set) -> dict:
    """{key: Traffic} for `by` (one of DIMENSIONS) from `since` up to `until`; `key(column)` is the grouping."""
    if by in PAGE_KEYS:
        column = key(page_views.c[PAGE_KEYS[by]]).label("key")
        grouped = (select(column, *_sums(page_views.c.views, page_views.c.visitors), _sum(page_views.c.visits, "visits"),
                          cast(null(), Integer).label("bounces"))
                   .where(page_views.c.day >= since, page_views.c.day < until).group_by(column))
    else:
        entry, flag = ENTRY[by]
        column = key(visits.c[entry]).label("key")
        grouped = (select(column, *_visit_sums(visits.c[flag]))
                   .where(visits.c.day >= since, visits.c.day < until).group_by(column))
    return {found: Traffic(int(views), int(visitors), int(n), None if bounces is None else int(bounces))
            for found, views, visitors, n, bounces in conn.execute(_kept(grouped.subquery("grouped"), lead_keys))
            if views is not None}


def totals(conn: Connection, since: date, until: date) -> Traffic:
    """The period's figures: every view counted; visitors, visits and bounces of the visits."""
    views = conn.execute(select(func.coalesce(func.sum(page_views.c.views), 0))
                         .where(page_views.c.day >= since, page_views.c.day < until)).scalar_one()
    _, visitors, n, bounces = conn.execute(select(*_visit_sums(visits.c[ALL]))
                                           .where(visits.c.day >= since, visits.c.day < until)).one()
    return Traffic(int(views), int(visitors), int(n), int(bounces))


def _sum(column, name: str):
    return func.coalesce(func.sum(column), 0).label(name)


def _sums(views, visitors):
    return _sum(views, "views"), _sum(visitors, "visitors")


def _visit_sums(flag):
    """Views, visitors (by `flag`), visits, and visits of one page, of the visits rows."""
    return (*_sums(visits.c.views, flag), func.count(visits.c.id).label("visits"),
            _sum(case((visits.c.views == 1, 1), else_=0), "bounces"))


def _kept(grouped, lead_keys: set):
    """No key, the keys with leads, and the VIEW_ROWS most visited others as they are; the rest as REST.

    One statement and one pass over the period's rows: the keys are grouped, the others ranked
    by visitors, then views (a window function, the same SQL on SQLite and PostgreSQL); the
    kept keys come out as they are, and those past VIEW_ROWS as one sum, so only a bounded
    number of rows reaches Python.
    """
    listed = or_(grouped.c.key.is_(None), grouped.c.key.in_(sorted(k for k in lead_keys if k is not None)))
    flagged = select(grouped, case((listed, 1), else_=0).label("listed")).subquery("flagged")
    rank = func.row_number().over(partition_by=flagged.c.listed,
                                  order_by=(flagged.c.visitors.desc(), flagged.c.views.desc(), flagged.c.key))
    ranked = select(flagged, rank.label("rank")).cte("ranked")  # read twice: made once
    kept = or_(ranked.c.listed == 1, ranked.c.rank <= VIEW_ROWS)
    figures = ("views", "visitors", "visits", "bounces")
    # One row always (NULL sums when nothing is left over; the caller skips it): HAVING without
    # GROUP BY is new in SQLite 3.39.
    rest = select(literal(REST), *(func.sum(ranked.c[name]) for name in figures)).where(~kept)
    return union_all(select(ranked.c.key, *(ranked.c[name] for name in figures)).where(kept), rest)
