"""Working time: deadlines over weekends, bank holidays, lunch breaks and DST changes.

The clock is injected: every test passes explicit datetimes. Holidays are the
real `holidays` package data for England.
"""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from capture.schema.worktime import Calendar, describe_hours, parse_hours

LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG")
HOUR = timedelta(hours=1)


def at(year, month, day, hour=0, minute=0) -> datetime:
    """A London wall-clock moment."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def office(hours=None) -> Calendar:
    """The studio's calendar: London, English bank holidays."""
    return Calendar(parse_hours(hours or {"mon-fri": "09:00-17:30"}), LONDON,
                    closed=lambda d: d in ENGLAND)


ALWAYS = Calendar(parse_hours({"mon-sun": "00:00-24:00"}), LONDON)
LUNCH = {"mon-thu": ["09:00-12:30", "13:30-17:30"], "fri": "09:00-15:00"}


def test_a_friday_evening_lead_is_due_on_monday_morning():
    due = office().add(at(2026, 11, 13, 17, 20), HOUR)
    assert due == at(2026, 11, 16, 9, 50)
    assert due.tzinfo == timezone.utc


def test_the_package_knows_the_bank_holidays_these_tests_rely_on():
    assert date(2026, 12, 28) in ENGLAND  # Boxing Day (substitute day)
    assert date(2027, 3, 26) in ENGLAND  # Good Friday
    assert date(2027, 3, 29) in ENGLAND  # Easter Monday


def test_christmas_and_the_substitute_boxing_day_are_skipped():
    # Thu 24th 17:00: half an hour that day, then Fri 25th, the weekend, Mon 28th are closed.
    assert office().add(at(2026, 12, 24, 17), HOUR) == at(2026, 12, 29, 9, 30)


def test_easter_is_skipped_and_the_clocks_going_forward_change_nothing():
    # Easter 2027 and the change to BST (Sun 28 March) fall in the same long weekend.
    due = office().add(at(2027, 3, 25, 17, 20), HOUR)
    assert due == at(2027, 3, 30, 9, 50)
    assert due == datetime(2027, 3, 30, 8, 50, tzinfo=timezone.utc)
    assert office().between(at(2027, 3, 25, 17), at(2027, 3, 30, 10)) == 90 * timedelta(minutes=1)


def test_the_clocks_going_back_change_nothing():
    assert office().add(at(2027, 10, 29, 17), HOUR) == at(2027, 11, 1, 9, 30)
    assert office().between(at(2027, 10, 29, 17), at(2027, 11, 1, 9, 30)) == HOUR


@pytest.mark.parametrize("received, due", [
    (at(2026, 11, 14, 10), at(2026, 11, 16, 10)),   # Saturday
    (at(2026, 11, 17, 7), at(2026, 11, 17, 10)),    # Tuesday, before opening
    (at(2026, 11, 17, 22), at(2026, 11, 18, 10)),   # Tuesday, after closing
    (at(2026, 11, 17, 9), at(2026, 11, 17, 10)),    # exactly at opening
])
def test_a_lead_outside_hours_counts_from_the_next_opening(received, due):
    assert office().add(received, HOUR) == due


def test_a_deadline_at_closing_time_is_closing_time_not_the_next_morning():
    assert office().add(at(2026, 11, 13, 16, 30), HOUR) == at(2026, 11, 13, 17, 30)


def test_lunch_breaks_are_skipped():
    calendar = office(LUNCH)
    assert calendar.add(at(2026, 11, 16, 12), HOUR) == at(2026, 11, 16, 14)
    assert calendar.between(at(2026, 11, 16, 12), at(2026, 11, 16, 14)) == HOUR
    assert not calendar.is_open(at(2026, 11, 16, 13))
    assert calendar.add(at(2026, 11, 20, 14, 30), HOUR) == at(2026, 11, 23, 9, 30)


def test_spans_of_weeks_cross_weekends_and_holidays():
    calendar, day = office(), timedelta(hours=8, minutes=30)
    assert calendar.add(at(2026, 11, 2, 9), 10 * day) == at(2026, 11, 13, 17, 30)
    # Mon 21 December: four days, then Christmas, the weekend and Boxing Day (observed).
    assert calendar.add(at(2026, 12, 21, 9), 5 * day) == at(2026, 12, 29, 17, 30)
    assert calendar.between(at(2026, 12, 21, 9), at(2026, 12, 29, 17, 30)) == 5 * day


def test_between_counts_only_open_time():
    calendar = office()
    assert calendar.between(at(2026, 11, 13, 17), at(2026, 11, 16, 10)) == 90 * timedelta(minutes=1)
    assert calendar.between(at(2026, 11, 16, 10), at(2026, 11, 13, 17)) == timedelta(0)
    assert calendar.between(at(2026, 11, 14, 10), at(2026, 11, 15, 10)) == timedelta(0)


def test_next_open_and_is_open_take_any_zone():
    calendar = office()
    new_york = datetime(2026, 11, 16, 4, 30, tzinfo=ZoneInfo("America/New_York"))  # 09:30 London
    assert calendar.is_open(new_york)
    assert calendar.next_open(new_york) == at(2026, 11, 16, 9, 30)
    assert not calendar.is_open(at(2026, 11, 16, 17, 30))  # the end of a span is closed
    assert calendar.next_open(at(2026, 11, 14, 10)) == at(2026, 11, 16, 9)
    assert calendar.add(at(2026, 11, 14, 10), timedelta(0)) == at(2026, 11, 16, 9)


def test_spans_on_a_date_are_utc_instants_and_none_when_closed():
    calendar = office(LUNCH)
    assert calendar.spans_on(date(2026, 11, 16)) == (
        (at(2026, 11, 16, 9), at(2026, 11, 16, 12, 30)), (at(2026, 11, 16, 13, 30), at(2026, 11, 16, 17, 30)))
    assert all(moment.tzinfo == timezone.utc for span in calendar.spans_on(date(2026, 11, 16)) for moment in span)
    assert calendar.spans_on(date(2026, 11, 14)) == ()  # Saturday
    assert calendar.spans_on(date(2026, 12, 25)) == ()  # Christmas Day
    # The week the clocks go forward: 09:00 local both sides, an hour apart in UTC.
    assert office().spans_on(date(2026, 3, 27))[0][0] == datetime(2026, 3, 27, 9, tzinfo=timezone.utc)
    assert office().spans_on(date(2026, 3, 30))[0][0] == datetime(2026, 3, 30, 8, tzinfo=timezone.utc)


def test_local_date_is_the_business_wall_clock_date():
    summer_midnight = datetime(2026, 6, 14, 23, 30, tzinfo=timezone.utc)  # 00:30 BST on the 15th
    assert office().local_date(summer_midnight) == date(2026, 6, 15)
    assert office().local_date(datetime(2026, 12, 14, 23, 30, tzinfo=timezone.utc)) == date(2026, 12, 14)
    with pytest.raises(ValueError, match="aware datetime"):
        office().local_date(datetime(2026, 6, 14, 23, 30))


def test_a_day_in_a_24_hour_calendar_follows_the_clocks():
    assert ALWAYS.between(at(2027, 3, 28), at(2027, 3, 29)) == 23 * HOUR
    assert ALWAYS.between(at(2027, 10, 31), at(2027, 11, 1)) == 25 * HOUR
    assert ALWAYS.add(at(2027, 3, 28), 23 * HOUR) == at(2027, 3, 29)
    assert ALWAYS.is_open(at(2027, 3, 28, 12))


def test_hours_starting_in_the_skipped_hour_start_when_the_clocks_jump():
    # Sunday 01:30-03:00 on the day 01:00 GMT becomes 02:00 BST: open 02:00-03:00 BST.
    calendar = Calendar(parse_hours({"sun": "01:30-03:00"}), LONDON)
    assert calendar.between(at(2027, 3, 28), at(2027, 3, 29)) == HOUR
    assert calendar.next_open(at(2027, 3, 28)) == datetime(2027, 3, 28, 1, tzinfo=timezone.utc)


SPANS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
STARTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                      timezones=st.just(LONDON), allow_imaginary=False)


@pytest.mark.parametrize("calendar", [office(), office(LUNCH), ALWAYS], ids=["office", "lunch", "always"])
@settings(deadline=None)
@given(start=STARTS, span=SPANS)
@example(start=at(2027, 3, 27, 23, 30), span=timedelta(hours=30))  # across the spring change
@example(start=at(2027, 10, 30, 23, 30), span=timedelta(days=3, microseconds=1))  # and the autumn one
def test_add_and_between_are_inverse(calendar, start, span):
    assert calendar.between(start, calendar.add(start, span)) == span


@pytest.mark.parametrize("calendar", [office(), office(LUNCH)], ids=["office", "lunch"])
@settings(deadline=None)
@given(start=STARTS, gap=SPANS)
def test_add_of_between_is_the_earliest_moment_with_that_much_work(calendar, start, gap):
    end = start + gap
    work = calendar.between(start, end)
    due = calendar.add(start, work)
    # With no work done yet, add() waits for the next opening, which may be after `end`.
    assert due <= end or work == timedelta(0)
    assert calendar.between(due, end) == timedelta(0)


@pytest.mark.parametrize("calendar", [office(), office(LUNCH), ALWAYS], ids=["office", "lunch", "always"])
@settings(deadline=None)
@given(starts=st.lists(STARTS, max_size=8), end=STARTS)
@example(starts=[at(2027, 3, 27, 23, 30), at(2027, 3, 29, 9, 0)], end=at(2027, 3, 29, 10, 0))  # spring
@example(starts=[at(2027, 10, 30, 23, 30), at(2027, 11, 2, 8)], end=at(2027, 11, 1, 12, 0))  # autumn; one after
def test_ages_of_many_starts_are_what_between_says_of_each(calendar, starts, end):
    """The report ages every waiting lead at once; each age is between()'s, whatever the order."""
    assert calendar.ages(starts, end) == [calendar.between(start, end) for start in starts]


def test_a_long_wait_is_aged_in_working_days_only():
    # From Wednesday 9 December 2026 10:00 (7.5 working hours left that day) to Saturday 9 January
    # 2027: 19 whole working days, Christmas, the Boxing Day substitute and New Year's Day closed.
    (age,) = office().ages([at(2026, 12, 9, 10)], at(2027, 1, 9, 19, 30))
    assert age == office().between(at(2026, 12, 9, 10), at(2027, 1, 9, 19, 30)) == timedelta(hours=7.5 + 8.5 * 19)


def test_a_calendar_needs_working_hours():
    with pytest.raises(ValueError, match="no working hours"):
        Calendar({}, LONDON)
    with pytest.raises(ValueError, match="no working hours"):
        Calendar({0: ()}, LONDON)


def test_a_calendar_closed_for_ever_fails_instead_of_looping():
    shut = Calendar(parse_hours({"mon-fri": "09:00-17:30"}), LONDON, closed=lambda d: True)
    with pytest.raises(ValueError, match="no working time"):
        shut.add(at(2026, 11, 16, 9), HOUR)


def test_naive_datetimes_and_negative_spans_are_refused():
    with pytest.raises(ValueError, match="aware datetime"):
        office().add(datetime(2026, 11, 16, 9), HOUR)
    with pytest.raises(ValueError, match="negative"):
        office().add(at(2026, 11, 16, 9), -HOUR)


@pytest.mark.parametrize("hours", [{0: ((600, 540),)}, {0: ((0, 1441),)}, {7: ((0, 60),)},
                                   {0: ((540, 780), (720, 1020))}])
def test_a_calendar_refuses_spans_it_cannot_use(hours):
    with pytest.raises(ValueError, match="hours: "):
        Calendar(hours, LONDON)


def test_hours_parse_into_minutes_after_midnight():
    assert parse_hours({"mon-fri": "09:00-17:30"}) == {d: ((540, 1050),) for d in range(5)}
    lunch = parse_hours(LUNCH)
    assert lunch[3] == ((540, 750), (810, 1050)) and lunch[4] == ((540, 900),) and 5 not in lunch
    assert parse_hours({"mon-sun": "00:00-24:00"}) == {d: ((0, 1440),) for d in range(7)}
    assert parse_hours({"Sat": ["13:00-17:00", " 09:00 - 12:00 "]})[5] == ((540, 720), (780, 1020))


@pytest.mark.parametrize("raw, message", [
    ({"sat-tue": "09:00-17:00"}, "hours.sat-tue: a day range runs forward within one week"),
    ({"mon-fri": "09:00-17:30", "fri": "10:00-12:00"}, "hours.fri: fri is listed twice"),
    ({"funday": "09:00-17:00"}, "hours.funday: days are mon, tue"),
    ({"mon-wed-fri": "09:00-17:00"}, "hours.mon-wed-fri: days are"),
    ({"mon": "9-5"}, "hours.mon: '9-5' is not HH:MM-HH:MM"),
    ({"mon": "9:00-17:00"}, "hours.mon: '9:00-17:00' is not HH:MM-HH:MM"),
    ({"mon": "17:00-09:00"}, "hours.mon: '17:00-09:00' must start before it ends"),
    ({"mon": "09:00-09:00"}, "hours.mon: '09:00-09:00' must start before it ends"),
    ({"mon": "24:00-24:00"}, "hours.mon: '24:00-24:00' is not a time of day"),
    ({"mon": "09:00-24:30"}, "hours.mon: '09:00-24:30' is not a time of day"),
    ({"mon": "09:60-10:00"}, "hours.mon: '09:60-10:00' is not a time of day"),
    ({"mon": ["09:00-13:00", "12:00-17:00"]}, "hours.mon: 12:00 starts before 13:00: the times overlap"),
    ({"mon": []}, "hours.mon: expected times like 09:00-17:30"),
    ({"mon": 540}, "hours.mon: expected times like 09:00-17:30"),
    ("mon-fri 09:00-17:30", "hours: expected a mapping of days to times"),
])
def test_invalid_hours_name_the_key(raw, message):
    with pytest.raises(ValueError) as caught:
        parse_hours(raw, "hours")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("raw, text", [
    ({"mon-fri": "09:00-17:30"}, "Monday to Friday, 9:00–17:30"),
    (LUNCH, "Monday to Thursday, 9:00–12:30 and 13:30–17:30; Friday, 9:00–15:00"),
    ({"mon-sun": "00:00-24:00"}, "Every day, 0:00–24:00"),
    ({"mon-wed": "10:00-16:00", "fri-sat": "10:00-16:00"}, "Monday to Wednesday, Friday and Saturday, 10:00–16:00"),
    ({"sat-sun": "10:00-16:00"}, "Saturday and Sunday, 10:00–16:00"),
    ({"tue": "10:00-16:00", "thu": "10:00-16:00", "sat": "10:00-16:00"}, "Tuesday, Thursday and Saturday, 10:00–16:00"),
])
def test_hours_are_described_for_people(raw, text):
    assert describe_hours(parse_hours(raw)) == text
