"""The days the business is shut (sales.yml's holidays): a country's public holidays and listed dates."""
from __future__ import annotations

import threading
from datetime import date, datetime

import holidays

from capture.schema import checks
from capture.schema.checks import DATE_RE

HOLIDAY_KEYS = ("calendar", "closed")


def closures(raw) -> Closed:
    """The days the business is shut: a country's public holidays plus listed dates."""
    if raw is None:
        return Closed(None, frozenset())
    checks.mapping(raw, "holidays", HOLIDAY_KEYS)
    closed = raw.get("closed") or []
    if not isinstance(closed, list):
        raise ValueError("holidays.closed: expected a list of dates like 2026-12-24")
    extra = frozenset(_date(value, f"holidays.closed[{i}]") for i, value in enumerate(closed))
    code = raw.get("calendar")
    return Closed(None if code is None else _country(code), extra)


def _country(code) -> holidays.HolidayBase:
    """The holidays package's calendar for 'GB' or 'GB-ENG' (country, then subdivision)."""
    country, _, subdiv = str(code).partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError as exc:
        raise ValueError(f"holidays.calendar: '{code}' is not a known holiday calendar ({exc})") from None


def _date(value, where: str) -> date:
    # YAML reads an unquoted 2026-12-24 as a date already; a quoted one is text.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        if isinstance(value, str) and DATE_RE.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"{where}: '{value}' is not a date like 2026-12-24")


class Closed:
    """Whether a date is a holiday: the calendar's year is loaded on first use."""

    def __init__(self, country: holidays.HolidayBase | None, extra: frozenset[date]):
        self.country = country
        self.extra = extra
        # A holidays object fills in a year on the first lookup; threads must not see it half-filled.
        self.lock = threading.Lock()

    def __call__(self, day: date) -> bool:
        if day in self.extra:
            return True
        if self.country is None:
            return False
        with self.lock:
            return day in self.country
