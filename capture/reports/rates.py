"""Rates people can trust: from fewer than MIN_BASE leads, the counts ("1 of 1") instead of a percentage.

"Win rate 100%" from one decided lead reads as a certainty it is not. A `Rate` is still the
percentage (JSON and CSV keep the number, sorting and comparing work as for any float) and it
remembers its part and whole, so `text` can say "1 of 1" where a percentage would mislead.
"""
from __future__ import annotations

MIN_BASE = 5  # leads decided (won or lost) before a win rate is shown as a percentage


class Rate(float):
    """`part` of `whole` as a percentage (rounded to 2 places), keeping both counts."""
    part: int
    whole: int

    def __new__(cls, part: int, whole: int) -> "Rate":
        made = super().__new__(cls, round(100 * part / whole, 2))
        made.part, made.whole = part, whole
        return made


def rate(part: int, whole: int) -> Rate | None:
    """The Rate of `part` in `whole`; None without a base."""
    return Rate(part, whole) if whole else None


def text(value: float) -> str:
    """'50.0%', or '1 of 1' for a Rate of fewer than MIN_BASE."""
    if isinstance(value, Rate) and value.whole < MIN_BASE:
        return f"{value.part} of {value.whole}"
    return f"{value:.1f}%"
