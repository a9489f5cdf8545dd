"""Visits: a visitor's views with no gap over 30 minutes, credited to where the visit began.

As Plausible counts them: a visit is the same daily visitor key (traffic/counts.py: the day's
salt over the IP address, user agent and site) with views no more than 30 minutes apart. Its
entry (first page, referring host, UTM values) is what every view of it is credited to, so a
campaign visit's later pages, which carry no UTM values and only our own site as referrer,
count for the campaign and not as "(direct or unknown)".

What is kept, and for how long:
- `visits`: one row per visit, written on its first view and counted up on each later one:
  the day, the entry, the number of views, and whether the visit was its visitor's first of the
  day (in all, and per entry value: the unique visitors of a source are a sum). No key, no time.
- `daily_visits`: today's visit of each visitor key and when its last view came. It is what
  ties a visits row to a key, so it goes with the day's salt (counts.todays_salt and the daily
  retention run): from then on no visits row can be tied to anyone, and tomorrow the same person
  starts new visits under a new key. A visit therefore never spans midnight (a new salt), as
  with Plausible's daily salt.
- Within the day, someone holding the database and a guessed IP address and user agent could
  find that person's visit of today (its entry and views): the same exposure, for the same day,
  as the counts' visitor keys.

A view with no key (Sec-GPC or DNT) belongs to no visit: it counts as a view of its page, and
in no visit, visitor or bounce. Two beacons of one visitor in the same instant, on two
processes, may start two visits; a browser sends a page's beacon after the page has loaded.

Why one row per visit: the report sums them per day and entry value (views, visits, one-page
visits, visitors), which a daily rollup keyed by (day, dimension, value) can add to as each
visit starts and grows, instead of rebuilding sessions from raw views.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from capture.db.models import daily_visitors, daily_visits, visits

IDLE = timedelta(minutes=30)  # Plausible's: a longer gap starts a new visit
# A visit's entry, by the report's dimension name: the visits column, and its visitor flag.
ENTRY = {"source": ("utm_source", "source_visitor"), "medium": ("utm_medium", "medium_visitor"),
         "campaign": ("utm_campaign", "campaign_visitor"),
         "referrer_host": ("referrer_host", "referrer_visitor"),
         "landing_page": ("entry_page", "landing_visitor")}
ALL = "new_visitor"  # the flag of a visitor's first visit of the day


def carry_on(conn: Connection, day: date, key: str, now: datetime) -> int | None:
    """Add this view to the key's visit if its last view came at most 30 minutes ago; its id, or None.

    One UPDATE … RETURNING finds the visit and moves its last view to now: one statement, and a
    row lock, so two views of one visitor on two processes each add to it while it goes on.
    """
    visit_id = conn.execute(update(daily_visits).where(
        daily_visits.c.day == day, daily_visits.c.key == key, daily_visits.c.last_seen_at >= now - IDLE)
        .values(last_seen_at=now).returning(daily_visits.c.visit_id)).scalar()
    if visit_id is not None:
        conn.execute(update(visits).where(visits.c.id == visit_id).values(views=visits.c.views + 1))
    return visit_id


def entry_values(entry: dict) -> dict:
    """{ALL: '', dimension: value}: what a visitor is counted as new for, per day."""
    return {ALL: "", **{name: entry[column] for name, (column, _) in ENTRY.items()}}


def start(conn: Connection, day: date, key: str, entry: dict, new: set, now: datetime) -> int:
    """A new visit from this view (`entry`: the visits columns), today's visit of `key` from now.

    `new` names what the visitor is new for today (ALL and the ENTRY dimensions).
    """
    flags = {ALL: int(ALL in new), **{flag: int(name in new) for name, (_, flag) in ENTRY.items()}}
    visit_id = conn.execute(_insert(conn, visits).values(day=day, **entry, views=1, **flags)
                            .returning(visits.c.id)).scalar_one()
    mine = {"visit_id": visit_id, "last_seen_at": now}
    conn.execute(_insert(conn, daily_visits).values(day=day, key=key, **mine)
                 .on_conflict_do_update(index_elements=["day", "key"], set_=mine))
    return visit_id


def first_today(conn: Connection, day: date, keys: dict) -> set:
    """Which of `keys` ({name: key}) were not counted today yet (and are from now on): one statement."""
    if not keys:
        return set()
    added = conn.execute(_insert(conn, daily_visitors).values([{"day": day, "key": k} for k in keys.values()])
                         .on_conflict_do_nothing().returning(daily_visitors.c.key)).scalars().all()
    return {name for name, key in keys.items() if key in set(added)}


def _insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
