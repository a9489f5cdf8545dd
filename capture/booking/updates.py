"""A booking's own mail: the update to visitor or host (made, moved, re-hosted, cancelled)
and the visitor's day-before reminder, built from the booking as stored when due."""
from __future__ import annotations

from email.message import EmailMessage

from capture.booking import appointments
from capture.delivery.leads import HELD_REASON, lead_for
from capture.delivery.registry import Kind, Rendering, Unwanted, register
from capture.pipeline.notices import compose_about_lead, form_of


def init_app() -> None:
    """The booking's message kinds."""
    register(Kind.BOOKING_UPDATE, render)
    register(Kind.REMIND_VISITOR, render)


def render(r: Rendering, job: dict) -> EmailMessage:
    """An update or reminder about the booking in `job["ref"]`; Unwanted once it no longer applies."""
    cap = r.capture
    lead = lead_for(cap, job, in_tray_too=True)
    if lead["spam"] and not cancelled_news_to_host(cap, job, lead):
        raise Unwanted(HELD_REASON)
    form = form_of(cap, lead)
    return compose_about_lead(r, job, lead, form, still_wanted(r, job))


def cancelled_news_to_host(cap, job: dict, lead: dict) -> bool:
    """A cancelled meeting's news to its host: sent even for a lead in the spam tray."""
    if job["kind"] != Kind.BOOKING_UPDATE or job["recipient"].lower() == str(lead["email"] or "").lower():
        return False
    made = appointments.still_current(cap.engine, job["ref"])
    return made is not None and made["status"] == appointments.CANCELLED


def still_wanted(r: Rendering, job: dict) -> dict:
    """The booking the message is about; Unwanted for one about a time since moved or cancelled."""
    booking = appointments.still_current(r.capture.engine, job["ref"])
    reminder = job["kind"] == Kind.REMIND_VISITOR
    if booking is None or (reminder and booking["status"] != "booked"):
        raise Unwanted("the booking changed before this was due")
    if booking.get("former_host") and booking["host"].lower() == job["recipient"].lower():
        raise Unwanted("the meeting came back to this host")
    if reminder and booking["starts_at"] <= r.now:
        # An outage or mail retries can carry a reminder past the meeting: decided at send time.
        raise Unwanted("the meeting had started before the reminder could go")
    return booking
