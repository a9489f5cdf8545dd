"""What the visitor's manage pages show besides the card (confirmation.details): free times by day, links.

Times are shown in the zone the visitor booked in (zones.shown_zone: the studio's when the
booking has none), and that zone is named. Pure reading: nothing here changes a booking.
"""
from __future__ import annotations

from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from capture.booking.slots import Slot
from capture.core import tokens
from capture.core.formatting import weekday_date
from capture.core.urls import external
from capture.core.zones import shown_zone, zone_label
from capture.schema.sales import Sales

REBOOK_PATH = "/consultation/"  # the site's booking page (docs/consultation.md)

def zone_of(booking: dict, studio: ZoneInfo) -> ZoneInfo:
    """The zone this visitor sees their times in."""
    return shown_zone(booking.get("visitor_zone"), studio)


def host_name(sales: Sales, email: str) -> str:
    """A host's name as the team list gives it (the address if they have left the team)."""
    member = sales.member(email)
    return member.name if member else email


def slot_value(moment: datetime) -> str:
    """A slot's start as the radio's value: ISO 8601 in UTC with a Z ('2026-12-09T10:00:00Z')."""
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def days(found: list[Slot], tz: ZoneInfo) -> list[dict]:
    """Free slots grouped by day in `tz`, labelled for people."""
    grouped = []
    for day, slots in groupby(found, key=lambda s: s.start.astimezone(tz).date()):
        grouped.append({"label": weekday_date(day, year=False), "iso": day.isoformat(),
                        "slots": [{"value": slot_value(s.start),
                                   "label": f"{s.start.astimezone(tz):%H:%M}–{s.end.astimezone(tz):%H:%M}"}
                                  for s in slots]})
    return grouped


def links(secret: str, public_url: str, booking: dict, email: str) -> dict:
    """The page's choices: its move and cancel pages (fresh links for this booking and address)."""
    made = {link["action"]: link["url"] for link in tokens.booking_links(secret, public_url, booking["id"], email)}
    return {"move": made["move"], "cancel": made["cancel"]}


def rebook_url(site_url: str) -> str:
    """Where 'Book a new time' goes: the site's consultation page, from CAPTURE_SITE_URL (never the request)."""
    return external(site_url, REBOOK_PATH)


def zone_name(tz: ZoneInfo) -> str:
    """'New York time'."""
    return f"{zone_label(tz)} time"
