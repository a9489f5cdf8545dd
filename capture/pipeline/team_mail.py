"""What a team email about a lead says for the lead's state now: its heading, its first line in
the team's voice, and the action buttons that make sense, the main one first.

A lead is an enquiry (a form that books nothing), a consultation requested (a day and a time
of day asked for, or a picked time not booked), booked, or cancelled (its last booking called
off). The buttons follow the state and the status: a booked call is not "marked as contacted",
a lead that is won or lost only opens in the desk. Every button opens a page (GET shows), and
only that page's POST acts (desk/actions.py, with a signed token and a CSRF token).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from capture.core import formatting, tokens, urls
from capture.core.tokens import BOOK_REQUESTED
from capture.pipeline.lead_view import asked_fields
from capture.pipeline.statuses import LeadStatus
from capture.schema.forms import Form

ENQUIRY, REQUESTED, BOOKED, CANCELLED = "enquiry", "requested", "booked", "cancelled"
OPEN = "open"  # the desk's lead page: a link, not an action
LABELS = {OPEN: "Open the lead in the desk", BOOK_REQUESTED: "Book the time they asked for", **tokens.ACTIONS}
ENDED = (LeadStatus.WON, LeadStatus.LOST)


@dataclass(frozen=True)
class Situation:
    """A lead as a team email presents it."""
    state: str  # ENQUIRY, REQUESTED, BOOKED or CANCELLED
    label: str  # "Consultation booked"
    detail: str  # "Tue 8 Dec 11:00 with Maya" ('' when there is nothing to add)
    lead_in: str  # the first sentence, to the team member reading it
    actions: tuple[str, ...]  # OPEN, BOOK_REQUESTED or tokens.ACTIONS keys, the main one first

    @property
    def heading(self) -> str:
        """'Consultation booked: Tue 8 Dec 11:00 with Maya', or the label alone."""
        return f"{self.label}: {self.detail}" if self.detail else self.label


def situation(lead: dict, form: Form, booking: dict | None, *, host_name: str, recipient: str,
              tz: ZoneInfo, slot: dict | None, now: datetime) -> Situation:
    """The lead's state for `recipient`: `booking` is its booked meeting, else its last cancelled one.

    `host_name` names the booking's host; `slot` is the time the visitor asked for (lead_view).
    """
    who = str((lead.get("data") or {}).get("name") or lead.get("name") or "They").split(" ")[0]
    status = lead.get("status") or LeadStatus.NEW
    if booking is not None and booking["status"] != "cancelled":
        return _booked(booking, status, host_name, recipient, tz, who, now)
    if booking is not None:
        when = formatting.short_moment(booking["starts_at"], tz)
        return Situation(CANCELLED, "Consultation cancelled", when,
                         f"{who}'s consultation on {formatting.local_time(booking['starts_at'], tz)} "
                         "is cancelled. Reply to find another time, or mark the lead as lost.",
                         _after_talking(status, cancelled=True))
    if form.booking is None:
        return Situation(ENQUIRY, f"{form.id.replace('_', ' ').capitalize()} enquiry", "",
                         f"{who} wrote to us through the form “{form.title}”. Reply to answer them.",
                         _new_or_later(status, can_book=False))
    wants = _wanted(lead, form, slot, tz)
    asked = f"{who} asked for a consultation{f' ({wants})' if wants else ''}. " + (
        "Book that time from here, or reply to agree another." if slot else "Reply to agree a time.")
    return Situation(REQUESTED, "Consultation requested", f"wants {wants}" if wants else "", asked,
                     _new_or_later(status, can_book=slot is not None))


def _booked(booking: dict, status: str, host_name: str, recipient: str, tz: ZoneInfo, who: str,
            now: datetime) -> Situation:
    yours = recipient.lower() == booking["host"].lower()
    host = "you" if yours else host_name.split(" ")[0]
    when = formatting.short_moment(booking["starts_at"], tz)
    over = booking["ends_at"] <= now
    moment = formatting.local_time(booking["starts_at"], tz)
    if over:
        lead_in = f"{who}'s consultation with {host} was on {moment}. How did it go?"
    else:
        lead_in = f"{who} booked a consultation for {moment}: {'you host' if yours else f'{host} hosts'} it."
    if status in ENDED:
        actions = (OPEN,)
    else:
        actions = ("won", "lost", OPEN) if over else (OPEN, "lost")
    return Situation(BOOKED, "Consultation booked", f"{when} with {host}", lead_in, actions)


def _wanted(lead: dict, form: Form, slot: dict | None, tz: ZoneInfo) -> str:
    """'Tue 8 Dec afternoon' (a day and a time of day asked for) or 'Tue 8 Dec 11:00' (a picked time)."""
    if slot is None:
        return ""
    values = lead.get("data") or {}
    _day, window_field = asked_fields(form)
    field = form.field(window_field) if window_field else None
    if values.get(form.booking.slot_field) or field is None or not values.get(window_field):
        return formatting.short_moment(slot["start"], tz)
    part = field.choice_label(str(values[window_field])).split(" (")[0].lower()
    return f"{formatting.short_weekday(slot['start'], year=False)} {part}"


def _new_or_later(status: str, can_book: bool) -> tuple[str, ...]:
    """A lead nobody has talked to: book the time asked for, or mark it contacted once answered."""
    if status == LeadStatus.NEW:
        return (BOOK_REQUESTED, "contacted", OPEN, "lost") if can_book else ("contacted", OPEN, "lost")
    if can_book and status == LeadStatus.CONTACTED:
        return (BOOK_REQUESTED, OPEN, "lost")
    return _after_talking(status, cancelled=False)


def _after_talking(status: str, cancelled: bool) -> tuple[str, ...]:
    if status in ENDED:
        return (OPEN,)
    if status == LeadStatus.NEW:
        return ("contacted", OPEN, "lost")
    if status == LeadStatus.CONTACTED:
        return (OPEN, "lost") if cancelled else ("consultation", OPEN, "lost")
    return ("won", OPEN, "lost")


def links(actions: tuple[str, ...], *, secret: str, base_url: str, lead_id: str, recipient: str) -> list[dict]:
    """The buttons: the desk's lead page, or a signed link that opens the action's page (GET shows)."""
    found = []
    for action in actions:
        path = (f"/desk/leads/{lead_id}" if action == OPEN
                else f"/actions/{tokens.action_token(secret, lead_id, action, recipient)}")
        found.append({"action": action, "label": LABELS[action], "url": urls.external(base_url, path),
                      "main": not found})
    return found
