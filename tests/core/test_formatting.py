"""Money and times as people read them: one module, through Babel."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from capture.core import formatting

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("minor, currency, shown", [
    (None, "GBP", ""), (0, "GBP", "£0"), (850_000, "GBP", "£8,500"), (125_050, "GBP", "£1,250.50"),
    (5, "EUR", "€0.05"), (100, "USD", "$1"), (123_456_700, "CHF", "CHF 1,234,567"),
])
def test_money_shows_pence_only_when_there_are_any(minor, currency, shown):
    assert formatting.money(minor, currency) == shown


def test_days_and_times_need_no_glibc_and_keep_their_shape():
    day = date(2026, 9, 3)
    assert formatting.long_date(day) == "3 September 2026"
    assert formatting.short_date(day) == "3 Sep 2026"  # not en_GB's "Sept"
    assert formatting.day_month(day) == "3 Sep"
    assert formatting.weekday_date(day) == "Thursday 3 September 2026"
    assert formatting.weekday_date(day, year=False) == "Thursday 3 September"
    assert formatting.short_weekday(day, year=False) == "Thu 3 Sep"
    summer = datetime(2026, 9, 3, 8, 5, tzinfo=timezone.utc)
    assert formatting.local_time(summer, LONDON) == "Thu 3 Sep 2026, 09:05 BST"
    assert formatting.local_time(None, LONDON) == ""
    late = datetime(2026, 12, 3, 23, 30, tzinfo=timezone.utc)
    assert formatting.wall_time(late, late.replace(hour=23, minute=59), LONDON) == \
        "Thursday 3 December 2026, 23:30–23:59 London time (GMT)"
    assert formatting.wall_time(late, datetime(2026, 12, 4, 1, tzinfo=timezone.utc), LONDON) == \
        "Thursday 3 December 2026, 23:30–Friday 4 December 2026, 01:00 London time (GMT)"
