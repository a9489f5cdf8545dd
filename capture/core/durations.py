"""Durations as people write them, one grammar for sales.yml and the CAPTURE_* settings, and
as the desk shows them (`span_text`: one format on every page: '45 min', '5 h 38 min').

A number (a fraction allowed) and a unit: ms, s, m, h or d, in any case, spaces
allowed around and between ('250ms', '0.5s', '45s', '30m', '1.5h', '2d'; a day is
24 hours). A number without a unit is an error unless the caller names the unit
it means (the settings read a bare number as seconds, as they always have).
Callers word their own errors: each names its file or variable.
"""
from __future__ import annotations

import re
from datetime import timedelta

DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)\s*", re.IGNORECASE)
UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text, unitless: str | None = None) -> timedelta:
    """The duration `text` says (zero included); ValueError if it says none.

    `unitless` is the unit ('s') of a number written without one; None: a unit is required.
    """
    found = DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    unit = (found[2].lower() or unitless) if found else None
    if unit not in UNITS:
        raise ValueError(f"'{text}' is not a duration")
    try:
        return timedelta(**{UNITS[unit]: float(found[1])})
    except OverflowError:  # beyond timedelta's 999999999 days
        raise ValueError(f"'{text}' is too long a duration") from None


def span_text(span: timedelta) -> str:
    """A span as the desk shows every duration: '0 min', '45 min', '5 h', '10 h 03 min' (whole minutes down).

    Hours are not rolled into days: a working day is not 24 hours, and the same figure reads the
    same whether it is working time or time on the clock.
    """
    minutes = max(0, int(span.total_seconds() // 60))
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"
