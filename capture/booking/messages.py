"""What the messages about a booked consultation say, and the invitation they carry.

The worker asks here when it renders a message for a lead with a booking
(the visitor's confirmation and reminder, the host's notification, an update
after a move or a cancellation). Everything is read from the booking as it is
now; `appointments.still_current` has already dropped a message about a time
since changed.
"""
from __future__ import annotations

from datetime import datetime

from capture.booking import invitations, meeting
from capture.core import formatting
from capture.core import tokens
from capture.core.zones import shown_zone
from capture.schema.forms import Form
from capture.booking.appointments import CANCELLED

SUMMARY = "Free consultation with Fernleaf Studio"


VISITOR, HOST, TEAM = "visitor", "host", "team"  # who a message goes to


def audience(booking: dict, lead: dict, recipient: str) -> str:
    """Whether `recipient` is the visitor, the booking's host, or another sales inbox."""
    if recipient.lower() == booking["host"].lower():
        return HOST
    return VISITOR if recipient.lower() == str(lead.get("email") or "").lower() else TEAM


def context(booking: dict, lead: dict, *, sales, settings, domain: str, recipient: str,
            now: datetime, form: Form | None) -> dict:
    """The `booking` a template shows: when, with whom, how, the visitor's links, the invitation.

    The visitor and the host get the invitation; another sales inbox only the facts. The
    visitor reads the times in their own zone (the one the picker sent), named; the team
    in the studio's.
    """
    if booking.get("former_host"):  # the host a move took it from: their copy is cancelled
        booking = {**booking, "host": recipient}
    who = audience(booking, lead, recipient)
    tz = shown_zone(booking.get("visitor_zone"), settings.timezone) if who == VISITOR else settings.timezone
    host = sales.member(booking["host"])
    host_name = host.name if host else booking["host"]
    how = meeting.of(booking, lead, sales.consultation.meeting)
    visitor_name = str(lead.get("name") or "")
    line = meeting.to_visitor(how) if who == VISITOR else meeting.to_host(how, visitor_name)
    cancelled = booking["status"] == CANCELLED
    method = "CANCEL" if cancelled else "REQUEST"
    links = (tokens.booking_links(settings.secret_key, settings.public_url, booking["id"], recipient)
             if who == VISITOR and not cancelled else [])
    visitor = (str(lead.get("name") or ""), str(lead.get("email") or ""))
    ics = None
    if who != TEAM:
        ics = invitations.invitation(
            uid=uid(booking, lead, domain, form), sequence=booking["sequence"], method=method,
            start=booking["starts_at"], end=booking["ends_at"], organizer=(host_name, booking["host"]),
            attendee=visitor, how=how, line=line, tz=tz,
            summary=SUMMARY if who == VISITOR else f"Consultation: {visitor[0] or visitor[1]}",
            stamp=now, description=_how_to_change(links))
    return {"host": booking["host"], "audience": who, "to_visitor": who == VISITOR,
            "when": formatting.wall_time(booking["starts_at"], booking["ends_at"], tz),
            "host_name": host_name, "how": line, "details": how.details, "kind": how.kind,
            # The line without its link, for HTML mail that makes the link a link.
            "how_lead": line.removesuffix(how.video_url or "").rstrip() if how.video_url else line,
            "video_url": how.video_url, "zone": tz.key,
            "cancelled": cancelled, "handed_over": bool(booking.get("former_host")),
            "moved": booking["sequence"] > 0 and not cancelled and not booking.get("new_host"),
            "links": links, "method": method, "ics": ics}


def uid(booking: dict, lead: dict, domain: str, form: Form | None) -> str:
    """The event's UID: the booking's own when the visitor booked it with the form, else the request's.

    A lead that was not booked with its form (a preferred date and time
    instead of a picked one, or a picked time held in the spam tray and
    released) had the asked-for time in its confirmation as a tentative event
    under `consultation_uid`; the booking sales make (and every move or cancel
    after it) reuses that UID, so the visitor's calendar replaces the
    tentative event instead of showing two. Whether a time was picked is the
    form's `booking.slot_field` (forms.yml); a form that books nothing picked none.
    """
    picked = form is not None and form.booking and (lead.get("data") or {}).get(form.booking.slot_field)
    if picked and not lead.get("released_at"):
        return invitations.booking_uid(booking["id"], domain)
    return invitations.consultation_uid(booking["lead_id"], domain)


def _how_to_change(links: list[dict]) -> str:
    return "\n".join(f"{link['label']}: {link['url']}" for link in links)
