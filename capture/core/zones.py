"""Time zones named by visitors: which names are accepted, and the zone a booking is shown in.

A visitor's picker sends an IANA name (Intl.DateTimeFormat's timeZone). Only names the tz
database lists are accepted, so a crafted value ("../../etc", "UTC+5") never reaches ZoneInfo;
a booking without one (made before zones were stored, or by sales) is shown in the studio's zone.
"""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

ZONE_MAX = 64


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_names() -> list[str]:
    """Every name known_zone accepts, sorted (the API description lists them)."""
    return sorted(_known())


def known_zone(name: str | None) -> ZoneInfo | None:
    """The zone an IANA name names, or None when it names none the tz database lists."""
    if not name or len(name) > ZONE_MAX or name not in _known():
        return None
    return ZoneInfo(name)


def shown_zone(stored: str | None, studio: ZoneInfo) -> ZoneInfo:
    """The zone a booking's times are shown to its visitor in: theirs if known, else the studio's."""
    return known_zone(stored) or studio


def zone_label(tz: ZoneInfo) -> str:
    """'New York' for America/New_York: the place people know their zone by."""
    return tz.key.rsplit("/", 1)[-1].replace("_", " ")
