"""Visitors, leads and won revenue over time (capture/reports/trends.py): bars by range, keys by the grouping.

Every test runs on SQLite and on PostgreSQL, with a history made as production makes it (the
form API, the beacon's counting function, the pipeline) and the clock injected.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from capture.pipeline.stages import Change
from capture.reports import trends
from capture.traffic import counts

from tests.reports.test_report import ARRIVED, clock, ext, lead, move  # noqa: F401  (clock: fixture)

GOOGLE = {"first_utm_source": "google", "first_utm_medium": "cpc", "first_utm_campaign": "autumn"}


@pytest.fixture
def history(app, client, consultation, clock) -> dict:
    """Tue 3 Nov: 6 visitors; google/autumn leads (one won £8,500) and a newsletter/winter one.
    Tue 10 Nov: a google/spring lead. 14 Oct: a google/autumn lead. 2 Dec: 4 visitors."""
    for at, n in ((ARRIVED, 6), (ARRIVED + timedelta(days=29), 4)):
        for i in range(n):
            counts.count_view(ext(app).engine, counts.View(path="/services/"), (f"10.1.{n}.{i}", "Firefox", "x"),
                              at, ext(app).settings.timezone)
    ids = {"won": lead(client, consultation, 1, **GOOGLE), "other": lead(client, consultation, 2, **GOOGLE),
           "news": lead(client, consultation, 3, first_utm_source="newsletter", first_utm_campaign="winter")}
    move(app, ids["won"], 30, Change("contacted"), Change("won", value=850_000))
    clock(ARRIVED + timedelta(days=7))
    ids["spring"] = lead(client, consultation, 4, **{**GOOGLE, "first_utm_campaign": "spring"})
    clock(ARRIVED - timedelta(days=20))
    ids["october"] = lead(client, consultation, 5, **GOOGLE)
    clock(ARRIVED)
    return ids


def over_time(app, since: date, until: date, **options) -> trends.Trend:
    return trends.over_time(ext(app).engine, ext(app).settings.timezone, since, until, **options)


@pytest.mark.parametrize("days, grain", [(1, "day"), (31, "day"), (32, "week"), (182, "week"), (183, "month"),
                                         (3 * 365, "month")])
def test_a_bar_a_day_up_to_31_days_a_week_up_to_26_weeks_then_a_month(days, grain):
    since = date(2026, 11, 1)
    assert trends.grain_for(since, since + timedelta(days=days)) == grain


def test_daily_bars_by_source(app, history):
    found = over_time(app, date(2026, 11, 2), date(2026, 11, 16))  # two weeks, Monday to Sunday
    assert found.grain == "day" and len(found.bars) == 14 and found.bars[0] == date(2026, 11, 2)
    assert found.keys == ["google", "newsletter"]
    assert found.leads["google"][1] == 2 and found.leads["google"][8] == 1 and sum(found.leads["google"]) == 3
    assert found.leads["newsletter"][1] == 1 and sum(found.leads["newsletter"]) == 1
    assert found.revenue["google"][1] == 850_000 and sum(found.revenue["google"]) == 850_000
    assert found.visitors[1] == 6 and sum(found.visitors) == 6
    assert found.totals("leads")[1] == 3


def test_the_series_follow_the_grouping_and_the_touch(app, history):
    by_campaign = over_time(app, date(2026, 11, 2), date(2026, 11, 16), by="campaign")
    assert by_campaign.keys == ["autumn", "spring", "winter"]
    assert sum(by_campaign.leads["autumn"]) == 2 and by_campaign.leads["spring"][8] == 1
    by_owner = over_time(app, date(2026, 11, 2), date(2026, 11, 16), by="owner", label=str.upper)
    assert all(key == key.upper() for key in by_owner.keys)  # named for people before being ranked
    last = over_time(app, date(2026, 11, 2), date(2026, 11, 16), touch="last")
    assert last.keys == ["(direct or unknown)"]
    few = over_time(app, date(2026, 11, 2), date(2026, 11, 16), by="campaign", top=2)
    assert few.keys == ["autumn", trends.OTHER] and sum(few.leads[trends.OTHER]) == 2


def test_weekly_and_monthly_bars(app, history):
    weekly = over_time(app, date(2026, 10, 1), date(2026, 12, 6))  # 66 days: a bar a week, Mondays
    assert weekly.grain == "week" and weekly.bars[0] == date(2026, 9, 28) and weekly.bars[-1] == date(2026, 11, 30)
    at = weekly.bars.index
    assert weekly.leads["google"][at(date(2026, 10, 12))] == 1 and weekly.leads["google"][at(date(2026, 11, 2))] == 2
    assert weekly.visitors[at(date(2026, 11, 2))] == 6 and weekly.visitors[at(date(2026, 11, 30))] == 4
    monthly = over_time(app, date(2026, 1, 1), date(2027, 1, 1))
    assert monthly.grain == "month" and monthly.bars == [date(2026, m, 1) for m in range(1, 13)]
    assert monthly.totals("leads")[9:12] == [1, 4, 0] and monthly.visitors[10:12] == [6, 4]
    assert monthly.revenue["google"][10] == 850_000


def test_a_long_period_is_charted_for_its_last_bars(app):
    found = over_time(app, date(2020, 1, 1), date(2026, 11, 16))
    assert found.cut and len(found.bars) == trends.MAX_BARS["month"] and found.bars[-1] == date(2026, 11, 1)
    assert found.since == date(2023, 12, 1)
