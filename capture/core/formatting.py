"""Money and times as people read them, through Babel: one place for every page, mail and report.

Babel's CLDR data names the days, months and currency symbols, so nothing depends on the
C library (glibc's `%-d`) or on the process's locale. Times arrive in UTC and are shown in
the business time zone; the zone's abbreviation (GMT, BST) comes from the tz database.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency, get_currency_symbol

# No setting names a language: "en" is what the pages and mails have always shown ("£", "$",
# "Sep"); en_GB would print "US$" and "Sept".
LOCALE = "en"


def money(minor: int | None, currency: str, locale: str = LOCALE) -> str:
    """8500000 pence as '£85,000' (pence shown only when there are any); '' for None."""
    if minor is None:
        return ""
    digits = "#,##0.00" if minor % 100 else "#,##0"
    # CLDR parts a symbol made of letters from the digits (CHF 100); Babel does not apply that rule.
    gap = " " if get_currency_symbol(currency, locale)[-1:].isalpha() else ""
    return format_currency(Decimal(minor) / 100, currency, format=f"¤{gap}{digits}",
                           currency_digits=False, locale=locale)


def long_date(day: date, locale: str = LOCALE) -> str:
    """'3 December 2026'."""
    return format_date(day, "d MMMM y", locale=locale)


def short_date(day: date, locale: str = LOCALE) -> str:
    """'3 Dec 2026'."""
    return format_date(day, "d MMM y", locale=locale)


def day_month(day: date, locale: str = LOCALE) -> str:
    """'3 Dec', e.g. a week on a chart's axis."""
    return format_date(day, "d MMM", locale=locale)


def month_year(day: date, locale: str = LOCALE) -> str:
    """'Dec 2026', e.g. a month on a chart's axis."""
    return format_date(day, "MMM y", locale=locale)


def weekday_date(day: date, year: bool = True, locale: str = LOCALE) -> str:
    """'Thursday 3 December 2026', or 'Thursday 3 December' without the year."""
    return format_date(day, "EEEE d MMMM y" if year else "EEEE d MMMM", locale=locale)


def short_weekday(day: date, year: bool = True, locale: str = LOCALE) -> str:
    """'Thu 3 Dec 2026', or 'Thu 3 Dec' without the year."""
    return format_date(day, "EEE d MMM y" if year else "EEE d MMM", locale=locale)


def local_time(moment: datetime | None, tz: ZoneInfo, locale: str = LOCALE) -> str:
    """A stored UTC time as the business sees it, e.g. 'Thu 26 Nov 2026, 16:50 GMT'; '' for None."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{format_date(local, 'EEE d MMM y', locale=locale)}, {local:%H:%M %Z}"


def short_moment(moment: datetime, tz: ZoneInfo, locale: str = LOCALE) -> str:
    """A UTC time as a heading's short local time, e.g. 'Tue 8 Dec 11:00'."""
    local = moment.astimezone(tz)
    return f"{format_date(local, 'EEE d MMM', locale=locale)} {local:%H:%M}"


def wall_time(start: datetime, end: datetime, tz: ZoneInfo, locale: str = LOCALE) -> str:
    """The span as the business sees it, e.g. 'Tuesday 1 December 2026, 09:00–09:30 London time (GMT)'."""
    s, e = start.astimezone(tz), end.astimezone(tz)
    until = f"{e:%H:%M}" if e.date() == s.date() else f"{weekday_date(e, locale=locale)}, {e:%H:%M}"
    place = tz.key.rsplit("/", 1)[-1].replace("_", " ")
    return f"{weekday_date(s, locale=locale)}, {s:%H:%M}–{until} {place} time ({s:%Z})"


# The Jinja filters every environment (desk pages, mail) registers, under the names templates use.
FILTERS = {"local": local_time, "desk_time": local_time, "long_date": long_date, "short_date": short_date,
           "short_weekday": short_weekday, "short_moment": short_moment}
