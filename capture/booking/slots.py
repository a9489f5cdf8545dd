"""Consultation slots: which start times a visitor may book, and with whom.

Pure: no database and no clock. The caller passes `now` and the bookings
that already exist (`Busy`); the booking transaction re-checks a visitor's
pick with `is_offered`. The rules, all from sales.yml's `consultation`:

- A slot starts at a working span's start plus a whole number of `step`s and
  ends `length` later inside the same span: never across a break or closing
  time, never on a closed day (the Calendar's hours and holidays). Steps are
  real time, so a meeting always lasts `length`, even on a day the clocks change.
- It starts no earlier than `min_notice` of working time after `now`
  (Calendar.add), and so never in the past.
- Its start falls on a business-local date before today + `horizon_days`,
  where today is the local date at `now`: with 21 that is today and the next
  20 days. Whole days, so the last day offered does not shrink hour by hour.
- A host is free for it unless one of their bookings, widened by `buffer` on
  both sides, overlaps it (touching is not overlapping). It is offered while
  at least one host is free.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from capture.schema.consultation import Consultation
from capture.schema.sales import Sales


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware UTC
    end: datetime
    hosts: tuple[str, ...]  # the hosts free for it, in the configured order


@dataclass(frozen=True)
class Busy:
    host: str  # a host's email
    start: datetime  # aware, any zone
    end: datetime


def free_slots(sales: Sales, busy: Iterable[Busy], first_day: date, days: int,
               now: datetime) -> list[Slot]:
    """The slots offered at `now` that start on local dates first_day .. first_day+days-1, by start."""
    consultation = _consultation(sales)
    earliest = sales.calendar.add(now, consultation.min_notice)
    diaries = _diaries(consultation, busy)
    slots = []
    # Days in order, each day's spans in order: the slots come out sorted.
    for day in _bookable_days(sales, first_day, days, now):
        for begin, end in sales.calendar.spans_on(day):
            for start in _starts(begin, end, consultation):
                if start < earliest:
                    continue
                finish = start + consultation.length
                hosts = tuple(h for h in consultation.hosts if diaries[h].is_free(start, finish))
                if hosts:
                    slots.append(Slot(start, finish, hosts))
    return slots


def is_offered(sales: Sales, busy: Iterable[Busy], start: datetime, now: datetime) -> Slot | None:
    """The slot starting exactly at `start` if it is offered at `now`, else None."""
    start = _utc(start)
    day = sales.calendar.local_date(start)
    return next((slot for slot in free_slots(sales, busy, day, 1, now) if slot.start == start), None)


def pick_host(slot: Slot, busy_counts: dict[str, int] | None = None) -> str:
    """The free host with the fewest bookings in `busy_counts`; a tie goes to the first configured.

    The caller decides what is counted: `bookings_on` the slot's day spreads
    each day's meetings across the hosts. Without counts, the first free host.
    """
    if not slot.hosts:
        raise ValueError("no host is free for this slot")
    counts = busy_counts or {}
    # min() keeps the first of equals, and slot.hosts is in the configured order.
    return min(slot.hosts, key=lambda host: counts.get(host, 0))


def bookings_on(sales: Sales, busy: Iterable[Busy], day: date) -> dict[str, int]:
    """How many bookings each host has starting on local date `day` (hosts only)."""
    counts = dict.fromkeys(_consultation(sales).hosts, 0)
    for booking in busy:
        host = booking.host.strip().lower()
        if host in counts and sales.calendar.local_date(booking.start) == day:
            counts[host] += 1
    return counts


# --- the parts -----------------------------------------------------------------

class _Diary:
    """One host's bookings, widened by the buffer and merged, for overlap checks by bisection."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]):
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def is_free(self, start: datetime, end: datetime) -> bool:
        """Whether nothing here overlaps start..end."""
        # Merged intervals are disjoint, so ends are sorted too: the last one
        # starting before `end` is the only one that can reach past `start`.
        i = bisect_left(self.starts, end) - 1
        return i < 0 or self.ends[i] <= start


def _consultation(sales: Sales) -> Consultation:
    """The consultation settings; booking without them is a caller's bug."""
    if sales.consultation is None:
        raise ValueError(f"{sales.source}: has no consultation section, so nothing can be booked")
    return sales.consultation


def _diaries(consultation: Consultation, busy: Iterable[Busy]) -> dict[str, _Diary]:
    """Each host's diary; bookings of people who no longer host are ignored."""
    widened: dict[str, list[tuple[datetime, datetime]]] = {h: [] for h in consultation.hosts}
    for booking in busy:
        intervals = widened.get(booking.host.strip().lower())
        if intervals is not None:
            intervals.append((_utc(booking.start) - consultation.buffer,
                              _utc(booking.end) + consultation.buffer))
    return {host: _Diary(intervals) for host, intervals in widened.items()}


def _bookable_days(sales: Sales, first_day: date, days: int, now: datetime) -> Iterator[date]:
    """The asked-for local dates from today up to (not including) today + horizon_days."""
    today = sales.calendar.local_date(now)
    day = max(first_day, today)
    stop = min(first_day + timedelta(days=days), today + timedelta(days=_consultation(sales).horizon_days))
    while day < stop:
        yield day
        day += timedelta(days=1)


def _starts(begin: datetime, end: datetime, consultation: Consultation) -> Iterator[datetime]:
    """Start times every `step` from `begin` for meetings that end by `end`."""
    start = begin
    while start + consultation.length <= end:
        yield start
        start += consultation.step


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is a bug, not a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"booking needs an aware datetime, not {moment!r}")
    return moment.astimezone(timezone.utc)
