"""Durations as people write them, one grammar for sales.yml and the CAPTURE_* settings.

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
