"""The time: every stored time is UTC, and every part of the service asks here for now."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(timezone.utc)
