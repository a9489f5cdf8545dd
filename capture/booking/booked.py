"""The Booked page and the booking's invitation file, for the visitor who just booked.

A browser without the site's script is sent here (303) after booking; the page shows the same
card the script draws from the API's answer (confirmation.py). Both routes are keyed by the
booking's signed manage token, answer GET and HEAD only, and change nothing: the change and
cancel links on the page lead to pages.py, where only a POST acts.
"""
from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template

from capture.booking import appointments, confirmation, messages
from capture.context import current
from capture.core.clock import utcnow
from capture.core.tokens import TokenError, read_booking
from capture.db import store

bp = Blueprint("booked", __name__, url_prefix="/actions/booked")
ICS_NAME = "consultation.ics"


@bp.get("/<token>")
def show(token: str):
    """The Booked card: what, when (their zone, and the studio's), with whom, how, the links."""
    made, lead = _opened(token)
    ext = current()
    card = confirmation.details(made, lead, sales=ext.sales, settings=ext.settings)
    return render_template("booking/booked.html", card=card, name=lead.get("name") or "")


@bp.get("/<token>/invitation.ics")
def invitation(token: str):
    """The booking's invitation, as the visitor's email carries it (same UID and SEQUENCE)."""
    made, lead = _opened(token)
    ext = current()
    form = ext.schema.forms.get(lead["form_id"])
    ics = messages.context(made, lead, sales=ext.sales, settings=ext.settings, domain=ext.mail_domain,
                           recipient=lead["email"], now=utcnow(), form=form)["ics"]
    response = make_response(ics)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8; method=REQUEST"
    response.headers["Content-Disposition"] = f'attachment; filename="{ICS_NAME}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _opened(token: str) -> tuple[dict, dict]:
    """(booking, lead) for a token of a booking still booked; otherwise the page saying why (aborts)."""
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
                       "on our website or reply to our email.", 410))
    return made, lead


def _message(title: str, message: str, status: int):
    return make_response(render_template("booking/message.html", title=title, message=message), status)
