"""How a booked consultation is held, phone or video, and what each person is told about it.

The visitor chooses on the form (forms.yml's `booking.kind_field`, one of sales.yml's
`consultation.meeting.kinds`) and the booking keeps the choice (`bookings.meeting_kind`) with the
visitor's time zone (`bookings.visitor_zone`). Every message, invitation and page says the same
thing from here, in its reader's voice: the visitor is told "We will call you on …", the host
"Call Jane Doe on …".
"""
from __future__ import annotations

from dataclasses import dataclass

from capture.core.zones import known_zone
from capture.schema.consultation import MEETING_DETAILS, Meeting
from capture.schema.forms import Form

PHONE, VIDEO = "phone", "video"
PHONE_LOCATION = "Phone call"


@dataclass(frozen=True)
class How:
    """One booking's way of meeting: the kind, the number or the link, and sales.yml's extra line."""
    kind: str
    phone: str = ""  # the visitor's number, for a phone call
    video_url: str | None = None  # the room, for a video call
    details: str = ""


def chosen(form: Form | None, values: dict, meeting: Meeting) -> tuple[str, str | None]:
    """The kind and the visitor's zone a booking form's cleaned answers give.

    A kind not offered (any more) or not asked is the first one offered; a zone the
    tz database does not list is none, which shows the booking in the studio's zone.
    """
    booking = form.booking if form is not None else None
    kind = values.get(booking.kind_field) if booking and booking.kind_field else None
    zone = values.get(booking.zone_field) if booking and booking.zone_field else None
    known = known_zone(zone) if isinstance(zone, str) else None
    return (kind if kind in meeting.kinds else meeting.kind), (known.key if known else None)


def of(booking: dict, lead: dict, meeting: Meeting) -> How:
    """How this booking is held, with the lead's number and sales.yml's link and line."""
    kind = booking.get("meeting_kind") or PHONE
    phone = str(lead.get("phone") or (lead.get("data") or {}).get("phone") or "")
    return How(kind=kind, phone=phone, video_url=meeting.video_url if kind == VIDEO else None,
               details=meeting.details.get(kind) or MEETING_DETAILS.get(kind, ""))


def to_visitor(how: How) -> str:
    """The visitor's line: 'We will call you on +44 …' or 'Join the video call: https://…'."""
    if how.kind == VIDEO:
        return f"Join the video call: {how.video_url}" if how.video_url else \
            "We will email you the link to the video call."
    return f"We will call you on {how.phone}." if how.phone else \
        "We will call you: please reply to this email with the number to call."


def to_host(how: How, name: str) -> str:
    """The host's line: 'Call Jane Doe on +44 …' or 'Video call: https://…'."""
    if how.kind == VIDEO:
        return f"Video call: {how.video_url}" if how.video_url else "Video call: send them the link."
    who = name or "the visitor"
    return f"Call {who} on {how.phone}." if how.phone else f"Call {who}: they gave no number, so email to ask."


def on_card(how: How) -> str:
    """What the visitor's Booked card says: 'We will call you on +44 …' or 'Video call: https://…'."""
    if how.kind == VIDEO and how.video_url:
        return f"Video call: {how.video_url}"
    return to_visitor(how)


def location(how: How) -> str:
    """An invitation's LOCATION: the room's link, or the call and the number."""
    if how.kind == VIDEO and how.video_url:
        return how.video_url
    return f"{PHONE_LOCATION}: {how.phone}" if how.phone else PHONE_LOCATION


def noun(kind: str) -> str:
    """'phone' or 'video call', as in 'a consultation by …'."""
    return "video call" if kind == VIDEO else "phone"
