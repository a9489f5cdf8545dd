"""Checks of parsed YAML values that sales.yml's sections share.

Each raises ValueError('key.path: problem'); parse_sales adds the file name once.
"""
from __future__ import annotations

import re
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email

from capture.core.durations import parse_duration

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # a calendar day, as YYYY-MM-DD


def mapping(raw, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """`raw` checked to be a mapping with only `allowed` keys and every `required` one."""
    if not isinstance(raw, dict):
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}expected a mapping with {', '.join(allowed)}")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ValueError(f"{join(where, unknown[0])}: unknown key (use {', '.join(allowed)})")
    missing = [k for k in required if raw.get(k) in (None, "", [], {})]
    if missing:
        raise ValueError(f"{join(where, missing[0])}: is missing or empty")
    return raw


def join(where: str, key: str) -> str:
    """The key path of `key` inside `where` ('' is the top of the file)."""
    return f"{where}.{key}" if where else key


def email(raw, where: str) -> str:
    """A checked address, lower-cased so lookups ignore case."""
    try:
        return validate_email(str(raw), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{where}: '{raw}' is not an email address ({exc})") from None


def duration(value, where: str, allow_zero: bool = False) -> timedelta:
    """A duration like '45s', '30m', '1h' or '2d' (core.durations); zero only if allowed."""
    try:
        amount = parse_duration(value)  # with a unit: is '15' seconds or minutes?
    except ValueError:
        raise ValueError(f"{where}: '{value}' is not a duration like 30m, 1h or 2d (s, m, h or d)") from None
    if not amount and not allow_zero:
        raise ValueError(f"{where}: must be longer than zero")
    return amount


def minutes(value, where: str, allow_zero: bool = False) -> timedelta:
    """A duration in whole minutes: slots start on the minute."""
    amount = duration(value, where, allow_zero)
    if amount % timedelta(minutes=1):
        raise ValueError(f"{where}: '{value}' must be whole minutes")
    return amount


def choices(raw, where: str, allowed: tuple[str, ...], noun: str) -> list[str]:
    """A list of `allowed` values (one may be written on its own); ValueError naming a bad one."""
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list):
        raise ValueError(f"{where}: expected a list of {noun}s ({', '.join(allowed)})")
    for value in values:
        if value not in allowed:
            raise ValueError(f"{where}: unknown {noun} '{value}' (use {', '.join(allowed)})")
    return values


def parsed_list(raw, section: str, expected: str, parse, key: str) -> tuple:
    """Each item of the list `section` as `parse(item, where)` makes it, none listed twice by `key`."""
    if not isinstance(raw, list):
        raise ValueError(f"{section}: expected a list of {expected}")
    found = tuple(parse(item, f"{section}[{i}]") for i, item in enumerate(raw))
    keys = [getattr(item, key) for item in found]
    for i, value in enumerate(keys):
        if value in keys[:i]:
            raise ValueError(f"{section}[{i}].{key}: '{value}' is listed twice")
    return found
