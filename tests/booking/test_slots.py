"""Consultation slots: hours with a break, holidays, notice, the horizon, buffers, two hosts, DST.

The clock is injected: every test passes `now`. Each Sales is loaded from a
temporary sales.yml, with the real `holidays` data for England.
"""
import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from capture.booking.slots import Busy, Slot, bookings_on, free_slots, is_offered, pick_host
from capture.schema.sales import load_sales

LONDON = ZoneInfo("Europe/London")
MAYA, TOM = "maya@fernleaf.example", "tom@fernleaf.example"
LUNCH = ["09:00-12:30", "13:30-17:30"]
MON, TUE = date(2026, 11, 16), date(2026, 11, 17)
DAY = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30",
       "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"]


def at(year, month, day, hour=0, minute=0) -> datetime:
    """A London wall-clock moment."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture()
def studio(tmp_path):
    """A Sales from a temporary sales.yml: Maya and Tom host, 09:00-17:30, no buffer by default."""
    def make(hours="09:00-17:30", closed=(), **consultation):
        settings = {"length": "30m", "buffer": "0m", "min_notice": "2h", "horizon_days": 21}
        raw = {
            "team": [{"name": "Maya Patel", "email": MAYA, "roles": ["sales", "manager", "host"]},
                     {"name": "Tom Reid", "email": TOM, "roles": ["sales", "host"]}],
            "hours": {"mon-fri": hours},
            "holidays": {"calendar": "GB-ENG", "closed": list(closed)},
            "response": {"first_contact": "60m", "remind_after": "30m"},
            "pipeline": {"lost_reasons": ["other"], "currency": "GBP"},
            "consultation": {**settings, **consultation},
        }
        path = tmp_path / "sales.yml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return load_sales(path, LONDON)
    return make


def clock(slots) -> list[str]:
    """Slot starts as London wall-clock HH:MM."""
    return [s.start.astimezone(LONDON).strftime("%H:%M") for s in slots]


def days_of(slots) -> list[date]:
    """The London dates that have slots, in order."""
    return sorted({s.start.astimezone(LONDON).date() for s in slots})


def busy(host, day, start, end) -> Busy:
    """A booking on `day` from HH:MM to HH:MM London time."""
    def moment(text):
        hh, mm = map(int, text.split(":"))
        return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LONDON)
    return Busy(host, moment(start), moment(end))


EARLY = at(2026, 11, 13, 8)  # the Friday before: no notice reaches into MON or TUE


# --- hours, holidays, notice, horizon ----------------------------------------------

def test_a_plain_day_has_slots_every_half_hour_in_utc_with_both_hosts(studio):
    slots = free_slots(studio(), [], MON, 1, EARLY)
    assert clock(slots) == DAY
    first = slots[0]
    assert first == Slot(datetime(2026, 11, 16, 9, tzinfo=timezone.utc),
                         datetime(2026, 11, 16, 9, 30, tzinfo=timezone.utc), (MAYA, TOM))
    assert first.start.tzinfo == timezone.utc
    assert slots[-1].end == at(2026, 11, 16, 17, 30)  # the last one ends at closing time


def test_two_spans_give_slots_in_both_and_none_across_the_break(studio):
    slots = free_slots(studio(hours=LUNCH), [], MON, 1, EARLY)
    assert clock(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00",
                            "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"]


def test_steps_count_from_each_spans_start(studio):
    slots = free_slots(studio(hours=LUNCH, step="45m"), [], MON, 1, EARLY)
    assert clock(slots) == ["09:00", "09:45", "10:30", "11:15", "12:00",
                            "13:30", "14:15", "15:00", "15:45", "16:30"]
    long = free_slots(studio(hours=LUNCH, length="1h"), [], MON, 1, EARLY)
    assert clock(long) == ["09:00", "10:00", "11:00", "13:30", "14:30", "15:30", "16:30"]


def test_no_slots_on_bank_holidays_weekends_or_closed_days(studio):
    now = at(2026, 12, 21, 9)
    slots = free_slots(studio(), [], date(2026, 12, 24), 6, now)
    # Christmas (Fri), the weekend and Boxing Day observed (Mon 28th) are shut.
    assert days_of(slots) == [date(2026, 12, 24), date(2026, 12, 29)]
    shut = free_slots(studio(closed=["2026-12-29"]), [], date(2026, 12, 24), 6, now)
    assert days_of(shut) == [date(2026, 12, 24)]


@pytest.mark.parametrize("now, first", [
    (at(2026, 11, 13, 16, 30), at(2026, 11, 16, 10)),     # Fri: 1h left that day, 1h on Monday
    (at(2026, 11, 13, 17), at(2026, 11, 16, 10, 30)),     # Fri: 30m that day, 1h30 on Monday
    (at(2026, 11, 14, 11), at(2026, 11, 16, 11)),         # Saturday: counted from Monday's opening
    (at(2026, 11, 17, 10, 10), at(2026, 11, 17, 12, 30)),  # 12:10 is not a slot start: the next one
    (at(2026, 11, 17, 10), at(2026, 11, 17, 12)),         # exactly on a start: that one
])
def test_minimum_notice_is_working_time_across_the_weekend(studio, now, first):
    slots = free_slots(studio(), [], now.date(), 7, now)
    assert slots[0].start == first


def test_minimum_notice_skips_the_lunch_break(studio):
    # 11:30 + 2 working hours with a 12:30-13:30 break is 14:30.
    slots = free_slots(studio(hours=LUNCH), [], TUE, 1, at(2026, 11, 17, 11, 30))
    assert clock(slots)[0] == "14:30"


def test_without_notice_nothing_in_the_past_is_offered(studio):
    slots = free_slots(studio(min_notice="0m"), [], TUE, 1, at(2026, 11, 17, 10, 10))
    assert clock(slots)[0] == "10:30"
    assert free_slots(studio(min_notice="0m"), [], MON, 1, at(2026, 11, 17, 10, 10)) == []


def test_the_horizon_counts_today_and_stops_before_today_plus_horizon_days(studio):
    now = at(2026, 11, 16, 8)  # Monday
    sales = studio(horizon_days=3)
    assert days_of(free_slots(sales, [], MON, 14, now)) == [MON, TUE, date(2026, 11, 18)]
    assert free_slots(sales, [], date(2026, 11, 19), 5, now) == []
    # Asking from before today offers nothing in the past and still stops at the horizon.
    assert days_of(free_slots(sales, [], date(2026, 11, 1), 30, now))[0] == MON
    default = free_slots(studio(), [], MON, 60, now)  # 21 days: up to Sunday 6 December
    assert days_of(default)[-1] == date(2026, 12, 4)
    assert days_of(free_slots(studio(horizon_days=22), [], MON, 60, now))[-1] == date(2026, 12, 7)


def test_the_horizon_is_counted_in_local_dates(studio):
    # 23:30 UTC on Sunday is already Monday in London in summer: "today" is Monday.
    now = datetime(2026, 6, 14, 23, 30, tzinfo=timezone.utc)
    sales = studio(horizon_days=1, min_notice="0m")
    assert days_of(free_slots(sales, [], date(2026, 6, 14), 3, now)) == [date(2026, 6, 15)]


def test_days_asked_for_limit_the_answer(studio):
    assert free_slots(studio(), [], MON, 0, EARLY) == []
    assert days_of(free_slots(studio(), [], MON, 2, EARLY)) == [MON, TUE]


# --- who is busy ----------------------------------------------------------------

def test_a_buffer_keeps_time_free_either_side_of_a_booking(studio):
    taken = [busy(MAYA, TUE, "10:00", "10:30")]
    sales = studio(hosts=[MAYA], buffer="15m")
    assert clock(free_slots(sales, taken, TUE, 1, EARLY))[:4] == ["09:00", "11:00", "11:30", "12:00"]
    unbuffered = studio(hosts=[MAYA])
    assert clock(free_slots(unbuffered, taken, TUE, 1, EARLY))[:4] == ["09:00", "09:30", "10:30", "11:00"]


def test_a_slot_busy_for_one_host_is_offered_with_the_other(studio):
    sales = studio(buffer="15m")
    taken = [busy(MAYA, TUE, "10:00", "10:30")]
    slots = {clock([s])[0]: s.hosts for s in free_slots(sales, taken, TUE, 1, EARLY)}
    assert slots["09:00"] == (MAYA, TOM)
    assert slots["09:30"] == slots["10:00"] == slots["10:30"] == (TOM,)
    assert slots["11:00"] == (MAYA, TOM)


def test_a_slot_busy_for_every_host_is_gone(studio):
    taken = [busy(MAYA, TUE, "10:00", "10:30"), busy(TOM, TUE, "10:00", "11:00")]
    slots = free_slots(studio(), taken, TUE, 1, EARLY)
    assert "10:00" not in clock(slots)
    hosts = {clock([s])[0]: s.hosts for s in slots}
    assert hosts["10:30"] == (MAYA,) and hosts["11:00"] == (MAYA, TOM)


def test_hosts_come_in_the_configured_order(studio):
    slots = free_slots(studio(hosts=[TOM, MAYA]), [], MON, 1, EARLY)
    assert slots[0].hosts == (TOM, MAYA)


def test_bookings_are_matched_by_address_whatever_its_case_and_others_are_ignored(studio):
    taken = [Busy("Maya@Fernleaf.EXAMPLE", at(2026, 11, 17, 9), at(2026, 11, 17, 9, 30)),
             Busy("priya@fernleaf.example", at(2026, 11, 17, 9, 30), at(2026, 11, 17, 10))]
    hosts = [s.hosts for s in free_slots(studio(), taken, TUE, 1, EARLY)]
    assert hosts[:2] == [(TOM,), (MAYA, TOM)]


def test_overlapping_and_long_bookings_block_everything_they_cover(studio):
    taken = [busy(MAYA, TUE, "10:00", "11:00"), busy(MAYA, TUE, "10:30", "12:00"),
             busy(MAYA, TUE, "09:00", "17:30"), busy(MAYA, TUE, "14:00", "14:30")]
    assert all(s.hosts == (TOM,) for s in free_slots(studio(), taken, TUE, 1, EARLY))
    assert free_slots(studio(hosts=[MAYA]), taken, TUE, 1, EARLY) == []


def test_bookings_in_any_zone_count_and_naive_ones_are_refused(studio):
    new_york = ZoneInfo("America/New_York")
    taken = [Busy(MAYA, datetime(2026, 11, 17, 4, tzinfo=new_york),  # 09:00-09:30 London
                  datetime(2026, 11, 17, 4, 30, tzinfo=new_york))]
    assert free_slots(studio(hosts=[MAYA]), taken, TUE, 1, EARLY)[0].start == at(2026, 11, 17, 9, 30)
    with pytest.raises(ValueError, match="aware datetime"):
        naive = Busy(MAYA, datetime(2026, 11, 17, 9), datetime(2026, 11, 17, 10))
        free_slots(studio(), [naive], TUE, 1, EARLY)


def test_busy_hosts_match_a_plain_overlap_check(studio):
    """Merged, bisected diaries agree with checking every booking against every slot."""
    rng = random.Random(20261116)
    sales = studio(hours=LUNCH, buffer="15m", step="20m")
    bookings = []
    for _ in range(150):
        start = at(2026, 11, 16, 8) + timedelta(minutes=10 * rng.randrange(0, 5 * 24 * 6))
        length = timedelta(minutes=rng.choice([15, 30, 60, 90]))
        bookings.append(Busy(rng.choice([MAYA, TOM]), start, start + length))
    buffer = timedelta(minutes=15)
    slots = free_slots(sales, bookings, MON, 5, EARLY)
    assert {len(slot.hosts) for slot in slots} == {1, 2}  # the draw exercises both cases
    for slot in slots:
        expected = tuple(h for h in (MAYA, TOM) if not any(
            b.host == h and b.start - buffer < slot.end and b.end + buffer > slot.start for b in bookings))
        assert slot.hosts == expected
    everyone = [s.start for s in free_slots(sales, [], MON, 5, EARLY)]
    offered = {s.start for s in slots}
    assert set(everyone) - offered
    for start in set(everyone) - offered:  # a slot left out is busy for both hosts
        end = start + timedelta(minutes=30)
        assert all(any(b.host == h and b.start - buffer < end and b.end + buffer > start for b in bookings)
                   for h in (MAYA, TOM))


# --- the clocks change ---------------------------------------------------------------

@pytest.mark.parametrize("before, after, now", [
    (date(2026, 3, 27), date(2026, 3, 30), at(2026, 3, 25, 9)),     # to BST on Sun 29 March
    (date(2026, 10, 23), date(2026, 10, 26), at(2026, 10, 21, 9)),  # to GMT on Sun 25 October
])
def test_slots_stay_at_the_same_wall_clock_times_when_the_clocks_change(studio, before, after, now):
    friday, monday = (free_slots(studio(), [], day, 1, now) for day in (before, after))
    assert clock(friday) == clock(monday) == DAY
    offsets = {s.start.astimezone(LONDON).utcoffset() for s in friday}, \
        {s.start.astimezone(LONDON).utcoffset() for s in monday}
    assert offsets[0] != offsets[1]
    assert all(s.end - s.start == timedelta(minutes=30) for s in friday + monday)


def test_notice_across_the_spring_weekend(studio):
    slots = free_slots(studio(), [], date(2026, 3, 27), 4, at(2026, 3, 27, 17))
    assert slots[0].start == at(2026, 3, 30, 10, 30) == datetime(2026, 3, 30, 9, 30, tzinfo=timezone.utc)


# --- re-checking a pick, and choosing the host -------------------------------------------

def test_is_offered_returns_the_slot_for_a_valid_start(studio):
    sales = studio()
    slot = is_offered(sales, [busy(MAYA, TUE, "10:00", "10:30")], at(2026, 11, 17, 10), EARLY)
    assert slot == Slot(at(2026, 11, 17, 10), at(2026, 11, 17, 10, 30), (TOM,))
    new_york = datetime(2026, 11, 17, 5, tzinfo=ZoneInfo("America/New_York"))  # 10:00 London
    assert is_offered(sales, [], new_york, EARLY).hosts == (MAYA, TOM)


@pytest.mark.parametrize("start, now", [
    (at(2026, 11, 17, 10, 10), EARLY),            # not on a step
    (at(2026, 11, 17, 12, 30), EARLY),            # in the lunch break
    (at(2026, 11, 13, 9), EARLY),                 # in the past
    (at(2026, 11, 17, 10), at(2026, 11, 17, 9)),  # inside the minimum notice
    (at(2026, 11, 17, 17, 30), EARLY),            # ends after closing
    (at(2026, 11, 14, 10), EARLY),                # Saturday
    (at(2026, 12, 25, 10), at(2026, 12, 21, 9)),  # Christmas Day
    (at(2026, 12, 7, 10), at(2026, 11, 16, 8)),   # the first day past the horizon
    (at(2026, 11, 17, 11), EARLY),                # both hosts busy
])
def test_is_offered_refuses_what_is_not_offered(studio, start, now):
    sales = studio(hours=LUNCH)
    taken = [busy(MAYA, TUE, "11:00", "11:30"), busy(TOM, TUE, "10:45", "11:15")]
    assert is_offered(sales, taken, start, now) is None


def test_is_offered_needs_an_aware_start(studio):
    with pytest.raises(ValueError, match="aware datetime"):
        is_offered(studio(), [], datetime(2026, 11, 17, 10), EARLY)


def test_pick_host_takes_the_least_booked_free_host_ties_in_order():
    slot = Slot(at(2026, 11, 17, 10), at(2026, 11, 17, 10, 30), (MAYA, TOM))
    assert pick_host(slot) == MAYA
    assert pick_host(slot, {MAYA: 2, TOM: 1}) == TOM
    assert pick_host(slot, {MAYA: 1, TOM: 1}) == MAYA
    assert pick_host(slot, {TOM: 3}) == MAYA  # a host not counted has none
    assert pick_host(Slot(slot.start, slot.end, (TOM,)), {MAYA: 0, TOM: 5}) == TOM  # only the free ones
    with pytest.raises(ValueError, match="no host is free"):
        pick_host(Slot(slot.start, slot.end, ()))


def test_bookings_on_counts_a_local_day_per_host(studio):
    taken = [busy(MAYA, TUE, "09:00", "09:30"), busy(MAYA, TUE, "11:00", "11:30"),
             busy(TOM, MON, "09:00", "09:30"), busy("priya@fernleaf.example", TUE, "09:00", "10:00"),
             Busy(TOM, datetime(2026, 11, 17, 0, 30, tzinfo=timezone.utc), at(2026, 11, 17, 1))]
    assert bookings_on(studio(), taken, TUE) == {MAYA: 2, TOM: 1}
    assert bookings_on(studio(), taken, date(2026, 11, 18)) == {MAYA: 0, TOM: 0}


def test_without_a_consultation_section_nothing_can_be_booked(tmp_path):
    raw = yaml.safe_load(open("sales.yml", encoding="utf-8"))
    del raw["consultation"]
    path = tmp_path / "sales.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    sales = load_sales(path, LONDON)
    assert sales.consultation is None
    with pytest.raises(ValueError, match="no consultation section"):
        free_slots(sales, [], MON, 1, EARLY)


def test_the_real_sales_file_offers_slots(studio):
    sales = load_sales("sales.yml", LONDON)
    slots = free_slots(sales, [busy(MAYA, TUE, "10:00", "10:30")], TUE, 1, EARLY)
    assert clock(slots) == DAY
    assert [s.hosts for s in slots[1:4]] == [(TOM,)] * 3  # the 15-minute buffer around Maya's call
