"""Visits: one visitor's views no more than 30 minutes apart, on one day, credited to where they began.

Every test runs on SQLite and on PostgreSQL, views counted as the beacon counts them
(counts.count_view) at injected moments.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from capture.db.models import page_views, visits
from capture.traffic.counts import View, count_view
from capture.traffic.visits import IDLE

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)  # a winter Tuesday: London is on UTC
ADA = ("198.51.100.7", "Firefox", "www.fernleaf.example")
BOB = ("198.51.100.8", "Firefox", "www.fernleaf.example")


def count(app, path: str, at: datetime, who=ADA, allowance=None, **entry) -> None:
    ext = app.extensions["capture"]
    count_view(ext.engine, View(path, **entry), who, at, ext.settings.timezone, allowance)


def kept(app) -> list[tuple]:
    """(entry page, referrer, source, campaign, views) of every visit, in the order they began."""
    with app.extensions["capture"].engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(
            visits.c.entry_page, visits.c.referrer_host, visits.c.utm_source, visits.c.utm_campaign, visits.c.views)
            .order_by(visits.c.id))]


def test_thirty_minutes_of_quiet_keep_the_visit_and_a_moment_more_ends_it(app, clock):
    count(app, "/", NOON, referrer_host="www.google.com")
    count(app, "/services/", NOON + IDLE)  # exactly 30 minutes: the same visit
    count(app, "/pricing/", NOON + 2 * IDLE + timedelta(seconds=1))  # 30 min 1 s after the last view
    assert kept(app) == [("/", "www.google.com", "", "", 2), ("/pricing/", "", "", "", 1)]


def test_the_entry_stays_the_visits_whatever_later_views_carry(app, clock):
    count(app, "/blog/fast-websites/", NOON, utm_source="newsletter", utm_campaign="winter")
    count(app, "/services/", NOON + timedelta(minutes=5), utm_source="google", utm_campaign="autumn")
    count(app, "/contact/", NOON + timedelta(minutes=9))
    assert kept(app) == [("/blog/fast-websites/", "", "newsletter", "winter", 3)]


def test_each_visitor_has_their_own_visit_at_the_same_time(app, clock):
    count(app, "/", NOON, who=ADA, utm_source="a")
    count(app, "/", NOON, who=BOB, utm_source="b")
    count(app, "/pricing/", NOON + timedelta(minutes=1), who=ADA)
    assert kept(app) == [("/", "", "a", "", 2), ("/", "", "b", "", 1)]


def test_a_page_viewed_twice_in_a_visit_is_one_visit_of_it(app, clock):
    for minutes in (0, 2, 4):
        count(app, "/" if minutes != 2 else "/services/", NOON + timedelta(minutes=minutes))
    with app.extensions["capture"].engine.connect() as conn:
        found = dict(conn.execute(select(page_views.c.path, page_views.c.visits)).all())
    assert found == {"/": 1, "/services/": 1}
    assert kept(app) == [("/", "", "", "", 3)]


def test_past_the_allowance_a_visit_carries_on_but_none_starts(app, clock):
    granted = iter([True])
    allowance = lambda day: next(granted, False)  # noqa: E731 -- one new thing, then none
    count(app, "/", NOON, allowance=allowance)
    count(app, "/", NOON + timedelta(minutes=1), allowance=allowance)  # the same row and visit: nothing new
    count(app, "/", NOON + timedelta(minutes=2), who=BOB, allowance=allowance)  # would start a visit
    assert kept(app) == [("/", "", "", "", 2)]
    with app.extensions["capture"].engine.connect() as conn:
        assert conn.execute(select(page_views.c.views, page_views.c.visitors, page_views.c.visits)).one() == (3, 1, 1)
