"""The visitor's pages from their booking email: cancel, or change the time. GET and HEAD show;
only the POST route acts.

The link's token is bound to the booking, the action and the visitor's
address (tokens.py); a mail scanner opening it changes nothing. Changing the
time needs no JavaScript: the free times are a plain radio group, shown in
the business's time zone and named as such.
"""
from __future__ import annotations

from datetime import datetime
from itertools import groupby

from flask import Blueprint, abort, make_response, render_template, request

from capture.booking import appointments, meeting
from capture.db import store
from capture.core.clock import utcnow
from capture.core.formatting import wall_time, weekday_date
from capture.pipeline.lead_view import requested_slot
from capture.schema.validation import parse_slot
from capture.pipeline.stages import PipelineError
from capture.core.tokens import BOOKING_ACTIONS, TokenError, read_booking
from capture.core import link_forms
from capture.context import current

bp = Blueprint("booking_pages", __name__, url_prefix="/actions/booking")
VISITOR = appointments.VISITOR
PICKED = "slot"  # the radio group of times on these pages (templates/booking/*.html), not a form field


@bp.get("/<token>")
def show(token: str):
    """The cancel or change-the-time page (GET and HEAD): it changes nothing."""
    link, made, lead = _opened(token)
    return _page(link.action, made, lead, token)


@bp.post("/<token>")
@link_forms.acts
def act(token: str):
    """The button: cancel, or move to the picked time."""
    link, made, lead = _opened(token)
    if link.action == "cancel":
        return _cancel(made)
    return _move(made, lead, token)


def _opened(token: str):
    """(link, booking, lead) for a usable token; otherwise the page saying why not (aborts)."""
    ext = current()
    try:
        link = read_booking(ext.settings.secret_key, token)
    except TokenError as exc:
        abort(_message("This link cannot be used", str(exc), exc.status))
    made = appointments.get(ext.engine, link.booking_id)
    lead = store.get_lead(ext.engine, made["lead_id"]) if made else None
    if made is None or lead is None or not link.is_for(lead["email"]):
        abort(_message("There is no such booking", "It may have been erased. Reply to our email and "
                       "we will sort it out.", 404))
    if made["status"] != appointments.BOOKED:
        abort(_message("This consultation was cancelled", "To talk to us after all, book a new time "
                       "on our website or reply to our email.", 410))
    if made["starts_at"] <= utcnow():
        abort(_message("This consultation has taken place", "It can no longer be changed here. "
                       "Reply to our email if anything is needed.", 410))
    return link, made, lead


def _cancel(made: dict):
    ext = current()
    appointments.cancel(ext.engine, ext.sales, made["id"], VISITOR, ext.mail_domain, utcnow())
    return _message("Your consultation is cancelled", "We have emailed you the cancellation for your "
                    "calendar. Changed your mind? Book a new time on our website.", 200)


def _move(made: dict, lead: dict, token: str):
    ext = current()
    now = utcnow()
    start = picked_time(now)
    if start is None:
        return _page("move", made, lead, token, error="Please pick one of the times below.", status=422)
    try:
        moved = appointments.move(ext.engine, ext.sales, made["id"], start, VISITOR, ext.mail_domain, now)
    except appointments.SlotTaken as exc:
        return _page("move", made, lead, token, error=str(exc), status=409)
    except PipelineError as exc:
        return _message("This consultation cannot be moved", str(exc), 409)
    if moved is None:
        return _message("Your consultation keeps its time", f"{_when(made)}: the time you picked is the "
                        "one you have, so nothing changed and no new invitation was sent.", 200)
    return _message("Your consultation has a new time", f"{_when(moved)}. We have emailed you the updated "
                    "invitation for your calendar.", 200)


def picked_time(now: datetime) -> datetime | None:
    """The time picked on a page's radio group, or None if it cannot be one that was offered."""
    today = current().sales.calendar.local_date(now)
    return parse_slot(request.form.get(PICKED, ""), today)


# --- sales: book the time a visitor asked for ---------------------------------------

def requested_page(lead: dict, recipient: str, token: str, error: str = "", status: int = 200):
    """From the sales email: the free times on the day the visitor asked for (GET and HEAD)."""
    ext = current()
    now = utcnow()
    if appointments.current(ext.engine, lead["id"]) is not None:
        return _message("Already booked", "This lead has a consultation booked already; see the desk.", 200)
    form = ext.schema.forms.get(lead["form_id"])
    length = ext.sales.consultation.length if ext.sales.consultation else None
    asked = requested_slot(form, lead["data"] or {}, ext.settings.timezone, length) if form else None
    day = asked["start"].date() if asked else ext.sales.calendar.local_date(now)
    days = _days(appointments.free(ext.engine, ext.sales, day, 3, now))
    return render_template("booking/confirm.html", lead=lead, asked=asked, days=days, error=error,
                           zone=_zone_name(ext.settings.timezone.key), who=recipient,
                           form_token=link_forms.form_token(token)), status


def book_requested(lead: dict, recipient: str, token: str):
    """The POST of that page: book the picked time, as if the visitor had picked it."""
    ext = current()
    now = utcnow()
    if appointments.current(ext.engine, lead["id"]) is not None:
        return _message("Already booked", "This lead has a consultation booked already; see the desk.", 200)
    start = picked_time(now)
    if start is None:
        return requested_page(lead, recipient, token, "Please pick one of the times below.", 422)
    kind, zone = meeting.chosen(ext.schema.forms.get(lead["form_id"]), lead["data"] or {},
                                ext.sales.consultation.meeting)
    try:
        made = appointments.book_requested(ext.engine, ext.sales, lead["id"], start, recipient,
                                           ext.mail_domain, now, kind=kind, zone=zone).booking
    except appointments.SlotTaken as exc:
        return requested_page(lead, recipient, token, f"{exc} Nothing was overwritten.", 409)
    except PipelineError as exc:
        return _message("Not booked", str(exc), 409)
    return _message("Booked", f"{_when(made)}, with {_host_name(made['host'])}. The visitor and "
                    "the host have the invitation.", 200)


def _host_name(email: str) -> str:
    member = current().sales.member(email)
    return member.name if member else email


def _days(found: list) -> list[dict]:
    """Free slots grouped by business-local day, labelled for people."""
    tz = current().settings.timezone
    days = []
    for day, slots in groupby(found, key=lambda s: s.start.astimezone(tz).date()):
        days.append({"label": weekday_date(day, year=False),
                     "slots": [{"value": s.start.isoformat(),
                                "label": f"{s.start.astimezone(tz):%H:%M}–{s.end.astimezone(tz):%H:%M}"}
                               for s in slots]})
    return days


def _page(action: str, made: dict, lead: dict, token: str, error: str = "", status: int = 200):
    ext = current()
    days = []
    if action == "move":
        now = utcnow()
        days = _days(appointments.free(ext.engine, ext.sales, ext.sales.calendar.local_date(now),
                                       ext.sales.consultation.horizon_days, now))
    return render_template("booking/manage.html", action=action, title=BOOKING_ACTIONS[action],
                           when=_when(made), name=lead["name"] or "", days=days, error=error,
                           zone=_zone_name(ext.settings.timezone.key),
                           form_token=link_forms.form_token(token)), status


def _when(made: dict) -> str:
    return wall_time(made["starts_at"], made["ends_at"], current().settings.timezone)


def _zone_name(key: str) -> str:
    """'Europe/London' as 'London time'."""
    return key.rsplit("/", 1)[-1].replace("_", " ") + " time"


def _message(title: str, message: str, status: int):
    return make_response(render_template("booking/message.html", title=title, message=message), status)
