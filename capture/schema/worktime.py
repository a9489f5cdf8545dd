"""Working time: business hours in one time zone, minus closed days.

Every deadline, age and KPI is computed here. Hours are local wall-clock
spans; each day's spans are turned into UTC instants with zoneinfo, so a
DST change moves the instants and never adds or loses working minutes by
naive arithmetic. `add` and `between` walk day by day, never minute by minute.

A span is a pair of minutes after local midnight: start in 0..1439, end in
1..1440, where 1440 is 24:00 (midnight at the end of the day). A wall time
the clocks skip (spring forward) means the moment of the jump; a wall time
they repeat (fall back) means its first occurrence. Both are "the first
moment the local clock reads that time or later", which keeps every day's
spans in order in UTC.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_MINUTES = 24 * 60
# Closed this many days in a row means never open again (a holiday list that
# closes everything): fail loudly instead of walking the calendar for ever.
MAX_CLOSED_DAYS = 2 * 366
DAYS_REMEMBERED = 4096  # about eleven years of days: plenty, and bounded
SPAN_RE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)

Span = tuple[int, int]
Hours = dict[int, tuple[Span, ...]]


class Calendar:
    """Working hours in one time zone, minus closed days."""

    def __init__(self, hours: Mapping[int, Sequence[Span]], tz: tzinfo,
                 closed: Callable[[date], bool] = lambda d: False):
        self.hours: Hours = _checked(hours)
        if not any(self.hours.values()):
            raise ValueError("no working hours")
        self.tz = tz
        self.closed = closed
        # Every lead's deadlines walk the same few days: each day's spans are worked out once.
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def is_open(self, moment: datetime) -> bool:
        """Whether `moment` (aware, any zone) falls within working hours."""
        return self.next_open(moment) == _utc(moment)

    def next_open(self, moment: datetime) -> datetime:
        """`moment` itself if open, else the next opening; aware UTC."""
        now = _utc(moment)
        begin, _ = next(span for span in self._spans_from(now) if span[1] > now)
        return max(begin, now)

    def add(self, start: datetime, span: timedelta) -> datetime:
        """The moment `span` of working time has passed after `start`; aware UTC."""
        if span < ZERO:
            raise ValueError(f"working time cannot be negative ({span})")
        now, left = _utc(start), span
        for begin, end in self._spans_from(now):
            if end <= now:
                continue
            begin = max(begin, now)
            # `<=`: a span that ends exactly at closing time ends then, not at the next opening.
            if left <= end - begin:
                return begin + left
            left -= end - begin
        raise AssertionError("unreachable: the working spans never run out")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero if `end` is not after `start`)."""
        first, last = _utc(start), _utc(end)
        total = ZERO
        if last <= first:
            return total
        day, final = self._local_date(first) - ONE_DAY, self._local_date(last) + ONE_DAY
        while day <= final:
            for begin, finish in self._day_spans(day):
                total += max(ZERO, min(finish, last) - max(begin, first))
            day += ONE_DAY
        return total

    def ages(self, starts: Sequence[datetime], end: datetime) -> list[timedelta]:
        """Working time from each of `starts` to `end`, as `between` counts it, in one walk over the days.

        For many moments at once (every lead still waiting, for the report): `between` walks
        from each start to `end`, which is years of days for an old lead; here the working time
        of every whole day after a start's own is summed once, backwards from `end`.
        """
        last = _utc(end)
        firsts = [_utc(start) for start in starts]
        if not firsts:
            return []
        final = self._local_date(last) + ONE_DAY
        day = min(self._local_date(first) for first in firsts if first < last) if any(
            first < last for first in firsts) else final
        after: dict[date, timedelta] = {}  # working time from the local day after `day` up to `end`
        total = ZERO
        while final >= day:
            after[final] = total
            total += sum((max(ZERO, min(finish, last) - begin) for begin, finish in self._day_spans(final)), ZERO)
            final -= ONE_DAY
        return [self._age(first, last, after) for first in firsts]

    def _age(self, first: datetime, last: datetime, after: dict[date, timedelta]) -> timedelta:
        """Working time from `first` to `last`: the spans of its day and the day before, then whole days."""
        if last <= first:
            return ZERO
        day = self._local_date(first)
        near = sum((max(ZERO, min(finish, last) - max(begin, first))
                    for here in (day - ONE_DAY, day) for begin, finish in self._day_spans(here)), ZERO)
        return near + after.get(day, ZERO)

    def spans_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working spans of one local date as aware UTC (start, end); () if closed."""
        return self._day_spans(day)

    def local_date(self, moment: datetime) -> date:
        """The date on the business's wall clock at `moment` (aware, any zone)."""
        return self._local_date(_utc(moment))

    def _spans_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Every working span in UTC, in order, from the local day before `moment` on."""
        # A day early: with clocks changed at midnight, yesterday's last span can end after today began.
        day, closed_run = self._local_date(moment) - ONE_DAY, 0
        while True:
            spans = self._day_spans(day)
            closed_run = 0 if spans else closed_run + 1
            if closed_run > MAX_CLOSED_DAYS:
                raise ValueError(f"no working time in the {MAX_CLOSED_DAYS} days before {day}")
            yield from spans
            day += ONE_DAY

    def _local_date(self, moment: datetime) -> date:
        """The calendar date on the business's wall clock at `moment`."""
        return moment.astimezone(self.tz).date()

    def _day_spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working spans of one local day, as UTC instants (remembered)."""
        found = self._days.get(day)
        if found is None:
            if len(self._days) > DAYS_REMEMBERED:
                self._days.clear()
            found = self._days[day] = () if self.closed(day) else tuple(
                (self._instant(day, start), self._instant(day, end))
                for start, end in self.hours.get(day.weekday(), ()))
        return found

    def _instant(self, day: date, minute: int) -> datetime:
        """The first moment the local clock reads `minute` after midnight of `day`, in UTC."""
        day += timedelta(days=minute // DAY_MINUTES)
        wall = datetime.combine(day, time(minute % DAY_MINUTES // 60, minute % 60))
        first = wall.replace(tzinfo=self.tz).astimezone(timezone.utc)  # fold=0: first of a repeat
        if first.astimezone(self.tz).replace(tzinfo=None) == wall:
            return first
        return self._jump(wall, first)

    def _jump(self, wall: datetime, after: datetime) -> datetime:
        """The moment the clocks jumped over `wall` (a time that never happened that day)."""
        # fold=1 reads the skipped time with the new offset: an instant before the jump.
        before = wall.replace(tzinfo=self.tz, fold=1).astimezone(timezone.utc)
        while after - before > timedelta(seconds=1):
            middle = before + timedelta(seconds=(after - before) // timedelta(seconds=2))
            if middle.astimezone(self.tz).replace(tzinfo=None) >= wall:
                after = middle
            else:
                before = middle
        return after


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is a bug, not a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"working time needs an aware datetime, not {moment!r}")
    return moment.astimezone(timezone.utc)


def _checked(hours: Mapping[int, Sequence[Span]]) -> Hours:
    """The hours as {weekday: sorted spans}; ValueError if they cannot be used."""
    result: Hours = {}
    for day, spans in hours.items():
        if day not in range(7):
            raise ValueError(f"hours: weekday {day!r} is not 0 (Monday) to 6 (Sunday)")
        spans = tuple((int(start), int(end)) for start, end in spans)
        for (start, end), following in zip(spans, spans[1:] + ((DAY_MINUTES, DAY_MINUTES),)):
            if not 0 <= start < end <= following[0]:
                raise ValueError(f"hours: {WEEKDAYS[day]} spans {spans} must be sorted, "
                                 f"non-overlapping and within 0..{DAY_MINUTES} minutes")
        result[day] = spans
    return result


def day_length(hours: Mapping[int, Sequence[Span]]) -> timedelta | None:
    """The length of a working day when every open day is as long; None when they differ."""
    lengths = {sum(end - start for start, end in spans) for spans in hours.values() if spans}
    return timedelta(minutes=lengths.pop()) if len(lengths) == 1 else None


SPELLED = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def span_words(span: timedelta, hours: Mapping[int, Sequence[Span]]) -> str:
    """A promise as the site words it: 'one working day' (every open day's length), 'two working hours'."""
    day = day_length(hours)
    for unit, name in ((day, "day"), (timedelta(hours=1), "hour"), (timedelta(minutes=1), "minute")):
        if unit and span >= unit and not span % unit:
            count = span // unit
            return f"{SPELLED[count] if count < len(SPELLED) else count} working {name}{'s' if count > 1 else ''}"
    return f"{span.total_seconds():g} working seconds"


# --- reading hours from sales.yml ----------------------------------------------

def parse_hours(raw: dict, where: str = "hours") -> Hours:
    """Weekday spans from sales.yml's `hours` mapping; ValueError names the key."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping of days to times, like mon-fri: 09:00-17:30")
    hours: Hours = {}
    for key, value in raw.items():
        here = f"{where}.{key}"
        spans = _parse_spans(value, here)
        for day in _parse_days(key, here):
            if day in hours:
                raise ValueError(f"{here}: {WEEKDAYS[day]} is listed twice")
            hours[day] = spans
    return hours


def _parse_days(key, here: str) -> range:
    """The weekdays a key like 'mon', 'mon-fri' names."""
    ends = str(key).strip().lower().split("-")
    if len(ends) > 2 or any(end not in WEEKDAYS for end in ends):
        raise ValueError(f"{here}: days are {', '.join(WEEKDAYS)} or a range like mon-fri")
    first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
    if first > last:
        raise ValueError(f"{here}: a day range runs forward within one week (mon-fri, not sat-tue)")
    return range(first, last + 1)


def _parse_spans(value, here: str) -> tuple[Span, ...]:
    """One 'HH:MM-HH:MM' or a list of them, sorted and checked for overlaps."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{here}: expected times like 09:00-17:30, or a list of them")
    spans = sorted(_parse_span(text, here) for text in texts)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise ValueError(f"{here}: {_clock(start)} starts before {_clock(end)}: the times overlap")
    return tuple(spans)


def _parse_span(text: str, here: str) -> Span:
    """Minutes after midnight for one 'HH:MM-HH:MM'."""
    match = SPAN_RE.match(text.replace(" ", ""))
    if not match:
        raise ValueError(f"{here}: '{text}' is not HH:MM-HH:MM, like 09:00-17:30")
    hh1, mm1, hh2, mm2 = (int(part) for part in match.groups())
    start, end = hh1 * 60 + mm1, hh2 * 60 + mm2
    if hh1 > 23 or mm1 > 59 or mm2 > 59 or not (hh2 <= 23 or end == DAY_MINUTES):
        raise ValueError(f"{here}: '{text}' is not a time of day (24:00 only as an end)")
    if start >= end:
        raise ValueError(f"{here}: '{text}' must start before it ends")
    return start, end


def _clock(minute: int) -> str:
    """Minutes after midnight as H:MM (24:00 for the end of the day)."""
    return f"{minute // 60}:{minute % 60:02d}"


def describe_hours(hours: Mapping[int, Sequence[Span]]) -> str:
    """A short sentence of the hours, like 'Monday to Friday, 9:00–17:30'."""
    groups: dict[tuple[Span, ...], list[int]] = {}
    for day in range(7):
        if hours.get(day):
            groups.setdefault(tuple(hours[day]), []).append(day)
    parts = []
    for spans, days in groups.items():
        times = " and ".join(f"{_clock(start)}–{_clock(end)}" for start, end in spans)
        parts.append(f"{_day_list(days)}, {times}")
    return "; ".join(parts)


def _day_list(days: list[int]) -> str:
    """Weekdays as runs: 'Monday to Wednesday and Friday'."""
    if len(days) == 7:
        return "Every day"
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names: list[str] = []
    for run in runs:
        # Two days in a row read better as a list: "Friday and Saturday".
        names += [f"{DAY_NAMES[run[0]]} to {DAY_NAMES[run[-1]]}"] if len(run) > 2 else \
            [DAY_NAMES[day] for day in run]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
