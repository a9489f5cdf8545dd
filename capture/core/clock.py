"""The time: every stored time is UTC, and every part of the service asks here for now.

`utcnow()` is the one source. A test sets it for the whole process with `use(source)`
(tests/conftest.py's `clock` fixture does), so request handlers, the CLI and worker
threads all see the same moment; a server started in another process keeps the wall clock.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone, tzinfo

_source: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    if _source is not None:
        return _source()
    return datetime.now(timezone.utc)


def today(tz: tzinfo) -> date:
    """Today's date in the time zone `tz` (the business's, for what "today" means to a visitor)."""
    return utcnow().astimezone(tz).date()


def use(source: Callable[[], datetime] | None) -> None:
    """Make `utcnow()` ask `source` (an aware UTC datetime each call); None restores the wall clock."""
    global _source
    _source = source
