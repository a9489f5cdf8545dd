"""The visitor's pages from their booking email: keep, move or cancel. GET and HEAD show;
only the POST route acts.

The link's token is bound to the booking, the action and the visitor's address
(tokens.py); a mail scanner opening it changes nothing. Each page offers all three
choices: keep (a page saying nothing changes), move (the free times, grouped by day,
as radios the site's script turns into the month grid: no JavaScript needed) and
cancel (with an optional reason for the team). Times are in the visitor's zone, named.
The pages wear the site's own header, footer and style (core/site_shell.py).
"""
from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, abort, make_response, render_template, request

from capture.booking import appointments, manage_view, meeting
from capture.booking.confirmation import details
from capture.db import store
from capture.core.clock import utcnow
from capture.core.formatting import wall_time
from capture.core import site_shell
from capture.pipeline.lead_view import requested_slot
from capture.schema.validation import parse_slot
from capture.pipeline.stages import PipelineError
from capture.core.tokens import TokenError, read_booking
from capture.core.urls import external
from capture.core import link_forms
from capture.context import current

bp = Blueprint("booking_pages", __name__, url_prefix="/actions/booking")
VISITOR = appointments.VISITOR
PICKED = "slot"  # the radio group of times on these pages (templates/booking/*.html), not a form field
REASON = "reason"  # the cancel page's optional text box
REASON_MAX = 1000
# What a reason keeps of the control characters: line breaks and tabs (PostgreSQL refuses NUL).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
TITLES = {"move": "Move your consultation", "cancel": "Cancel your consultation"}


@bp.app_context_processor
def _site() -> dict:
    """For templates/booking/base.html, wherever a page extending it is rendered: the site's
    shell (read only when a page asks) and the site's base URL (CAPTURE_SITE_URL)."""
    return {"site_shell": lambda: site_shell.load(current().settings.site_dir),
            "site_base": current().settings.site_url}


@bp.get("/<token>")
def show(token: str):
    """The move or cancel page (GET and HEAD): it changes nothing."""
    link, made, lead = opened(token)
    return _page(link.action, made, lead, token)


@bp.get("/<token>/keep")
def keep(token: str):
    """'Keep my booking': the booking as it stands; nothing to do, so nothing to post."""
    _, made, lead = opened(token)
    return _message("Your consultation stands", "Nothing has changed. We look forward to talking to you.",
                    200, booking=made, lead=lead)


@bp.post("/<token>")
@link_forms.acts
def act(token: str):
    """The button: cancel, or move to the picked time."""
    link, made, lead = opened(token)
    if link.action == "cancel":
        return _cancel(made, lead, token)
    return _move(made, lead, token)


def opened(token: str, past_ok: bool = False):
    """(link, booking, lead) for a usable token; otherwise the page saying why not (aborts).

    The manage pages refuse a meeting that has started; the Booked page (booked.py) may be
    reopened afterwards (`past_ok`)."""
    ext = current()
    try:
        link = read_booking(ext.settings.secret_key, token)
    except TokenError as exc:
        abort(_message("This link cannot be used", str(exc), exc.status))
    made = appointments.get(ext.engine, link.booking_id)
    lead = store.get_lead(ext.engine, made["lead_id"]) if made else None
    if made is None or lead is None or not link.is_for(lead["email"]) or ext.sales.consultation is None:
        abort(_message("There is no such booking", "It may have been erased. Reply to our email and "
                       "we will sort it out.", 404))
    if made["status"] != appointments.BOOKED:
        abort(_message("This consultation was cancelled", "To talk to us after all, book a new time "
                       "on our website or reply to our email.", 410, rebook=True))
    if made["starts_at"] <= utcnow() and not past_ok:
        abort(_message("This consultation has taken place", "It can no longer be changed here. "
                       "Reply to our email if anything is needed.", 410))
    return link, made, lead


def _cancel(made: dict, lead: dict, token: str):
    ext = current()
    raw = request.form.get(REASON, "")
    reason = CONTROL.sub("", raw.replace("\r\n", "\n")).strip()
    if len(reason) > REASON_MAX:
        return _page("cancel", made, lead, token, status=422, reason=raw,
                     reason_error=f"Please keep the reason under {REASON_MAX:,} characters "
                                  f"(it has {len(reason):,}).")
    appointments.cancel(ext.engine, ext.sales, made["id"], VISITOR, ext.mail_domain, utcnow(), reason=reason)
    return _message("Your consultation is cancelled", "We have emailed you the cancellation for your "
                    "calendar. Changed your mind? Book a new time whenever suits you.", 200, rebook=True)


def _move(made: dict, lead: dict, token: str):
    ext = current()
    now = utcnow()
    start = picked_time(now)
    if start is None:
        return _page("move", made, lead, token, error="Pick a time.", status=422)
    try:
        moved = appointments.move(ext.engine, ext.sales, made["id"], start, VISITOR, ext.mail_domain, now)
    except appointments.SlotTaken as exc:
        return _page("move", made, lead, token, error=str(exc), status=409)
    except PipelineError as exc:
        return _message("This consultation cannot be moved", str(exc), 409)
    if moved is None:
        return _message("Your consultation keeps its time", "The time you picked is the one you have, "
                        "so nothing changed and no new invitation was sent.", 200, booking=made, lead=lead)
    said = "We have emailed you the updated invitation for your calendar."
    if moved["host"].lower() != made["host"].lower():
        said = (f"Your meeting is now with {manage_view.host_name(ext.sales, moved['host'])}, as "
                f"{manage_view.host_name(ext.sales, made['host'])} is not free then. {said}")
    return _message("Your consultation has a new time", said, 200, booking=moved, lead=lead)


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
    days = manage_view.days(appointments.free(ext.engine, ext.sales, day, 3, now), ext.settings.timezone)
    return render_template("booking/confirm.html", lead=lead, asked=asked, days=days, error=error,
                           zone=manage_view.zone_name(ext.settings.timezone), who=recipient,
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
    return _message("Booked", f"{_when(made)}, with {manage_view.host_name(ext.sales, made['host'])}. The visitor and "
                    "the host have the invitation.", 200)


def _page(action: str, made: dict, lead: dict, token: str, error: str = "", status: int = 200, **more):
    """The move or cancel page: the booking, the three choices, and the chosen one's form."""
    ext = current()
    settings = ext.settings
    tz = manage_view.zone_of(made, settings.timezone)
    days = []
    if action == "move":
        now = utcnow()
        days = manage_view.days(appointments.free(ext.engine, ext.sales, ext.sales.calendar.local_date(now),
                                                  ext.sales.consultation.horizon_days, now), tz)
    return render_template("booking/manage.html", action=action, title=TITLES[action], name=lead["name"] or "",
                           card=details(made, lead, sales=ext.sales, settings=settings), days=days, error=error,
                           zone=manage_view.zone_name(tz), keep_url=_keep_url(token),
                           links=manage_view.links(settings.secret_key, settings.public_url, made, lead["email"]),
                           reason_max=REASON_MAX, form_token=link_forms.form_token(token), **more), status


def _keep_url(token: str) -> str:
    return external(current().settings.public_url, f"/actions/booking/{token}/keep")


def _when(made: dict) -> str:
    return wall_time(made["starts_at"], made["ends_at"], current().settings.timezone)


def _message(title: str, message: str, status: int, booking: dict | None = None, lead: dict | None = None,
             rebook: bool = False):
    """A page that says what happened (or why nothing can), with the booking as it is now if given."""
    ext = current()
    shown = details(booking, lead or {}, sales=ext.sales, settings=ext.settings) if booking else None
    return make_response(render_template(
        "booking/message.html", title=title, message=message, card=shown,
        rebook_url=manage_view.rebook_url(ext.settings.site_url) if rebook else ""), status)
