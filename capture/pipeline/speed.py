"""Speed to lead, one definition: how long a person took to first contact a lead, in working time.

- A human's first contact counts: a team member moving the lead out of `new` (a status, a call
  booked for it), at `first_response_minutes` working minutes after it arrived (stages.first_contact).
- A visitor who booked a time with the form (booking.book_with_lead) was answered by nobody:
  the lead is stored with its first contact at the very moment it arrived, which no person can
  match. Such leads are counted apart (`self_booked`), never as 0 minutes.
- A lead still waiting (no first contact yet) counts with its age now, in working time: a
  censored observation, which the true time can only exceed. Leaving it out would hide
  exactly the leads nobody answered.
- The median is the middle value (the mean of the two middle ones for an even count); the p90
  is the nearest rank, the ⌈0.9·n⌉-th smallest value. n counts the contacted and the waiting.

The report (reports/report.py, behind the desk page, `flask report` and the weekly digest) and a
lead's own page (stages.response_times) use this module, so they say the same. Whole working
minutes throughout: what stages.first_contact stores, and the ages rounded the same way.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from capture.db.models import leads
from capture.schema.worktime import Calendar

COLUMNS = ("median_first_contact_minutes", "p90_first_contact_minutes", "first_contact_n", "still_waiting",
           "self_booked")
MINUTE = timedelta(minutes=1)
ALL = object()  # the key of every lead together, beside those per key
# The SQL twin of self_booked(): first contacted the moment it arrived.
SELF_BOOKED = leads.c.first_contact_at == leads.c.received_at


def self_booked(lead: dict) -> bool:
    """Whether the visitor booked a time themselves: first contact at the moment of arrival."""
    return lead.get("first_contact_at") is not None and lead["first_contact_at"] == lead.get("received_at")


@dataclass(frozen=True)
class Speed:
    """Speed to lead over some leads: median and p90 of working minutes, and what they count."""
    median: float | None = None
    p90: int | None = None
    n: int = 0  # contacted by a person, and still waiting
    waiting: int = 0
    self_booked: int = 0

    def columns(self) -> dict:
        """The report row's columns (COLUMNS)."""
        return dict(zip(COLUMNS, (self.median, self.p90, self.n, self.waiting, self.self_booked)))


def of_minutes(minutes: Counter, waiting: int = 0, self_booked: int = 0) -> Speed:
    """The Speed of a histogram {whole working minutes: leads}, `waiting` of them still waiting."""
    n = sum(minutes.values())
    if not n:
        return Speed(n=0, waiting=waiting, self_booked=self_booked)
    low, high, p90 = (n + 1) // 2, (n + 2) // 2, -(-9 * n // 10)  # 1-based ranks
    found = _ranked(minutes, (low, high, p90))
    return Speed(median=(found[low] + found[high]) / 2, p90=found[p90], n=n, waiting=waiting,
                 self_booked=self_booked)


def _ranked(minutes: Counter, ranks: tuple[int, ...]) -> dict[int, int]:
    """{rank: the value at that rank} in the sorted histogram."""
    found, upto = {}, 0
    wanted = sorted(set(ranks))
    for value in sorted(minutes):
        upto += minutes[value]
        while wanted and wanted[0] <= upto:
            found[wanted.pop(0)] = value
        if not wanted:
            break
    return found


def by_key(conn, key, arrived, calendar: Calendar, now: datetime) -> dict:
    """{key: Speed} for the leads `arrived` finds, grouped by `key`, and {ALL: Speed} of them all.

    One statement, one pass over the leads: the contacted as a histogram of (key, minutes) with
    how many of each booked themselves, and each waiting lead's arrival (a group of its own),
    aged here in one walk over the calendar (Calendar.ages).
    """
    minutes = leads.c.first_response_minutes
    waiting_since = case((leads.c.first_contact_at.is_(None), leads.c.received_at))  # NULL: contacted
    query = (select(key, minutes.label("minutes"), waiting_since.label("waiting_since"),
                    func.count().label("leads"), func.sum(case((SELF_BOOKED, 1), else_=0)).label("booked"))
             .where(arrived).group_by(key, minutes, waiting_since))
    counts: dict = defaultdict(Counter)
    booked: Counter = Counter()
    waiting: list = []
    for found, value, since, n, themselves in conn.execute(query):
        if since is not None:
            waiting.extend([(found, since)] * n)
            continue
        themselves = int(themselves or 0)
        booked[found] += themselves
        if value is not None and n > themselves:  # no minutes: contacted before they were kept
            counts[found][value] += n - themselves
    still = Counter(found for found, _ in waiting)
    for (found, _), age in zip(waiting, calendar.ages([since for _, since in waiting], now)):
        counts[found][round(age / MINUTE)] += 1
    everything: Counter = Counter()
    for histogram in counts.values():
        everything.update(histogram)
    speeds = {found: of_minutes(counts.get(found, Counter()), still[found], booked[found])
              for found in set(counts) | set(booked)}
    speeds[ALL] = of_minutes(everything, sum(still.values()), sum(booked.values()))
    return speeds
