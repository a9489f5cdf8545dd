"""The Booked page and the booking's invitation file, for the visitor who just booked.

A browser without the site's script is sent here (303) after booking; the page shows the same
card the script draws from the API's answer (confirmation.py). Both routes are keyed by the
booking's signed manage token, answer GET and HEAD only, and change nothing: the change and
cancel links on the page lead to pages.py, where only a POST acts.
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template

from capture.booking import confirmation, messages, pages
from capture.context import current
from capture.core.clock import utcnow

bp = Blueprint("booked", __name__, url_prefix="/actions/booked")
ICS_NAME = "consultation.ics"


@bp.get("/<token>")
def show(token: str):
    """The Booked card: what, when (their zone, and the studio's), with whom, how, the links."""
    _, made, lead = pages.opened(token, past_ok=True)
    ext = current()
    card = confirmation.details(made, lead, sales=ext.sales, settings=ext.settings)
    return render_template("booking/booked.html", card=card, name=lead.get("name") or "")


@bp.get("/<token>/invitation.ics")
def invitation(token: str):
    """The booking's invitation, as the visitor's email carries it (same UID and SEQUENCE)."""
    _, made, lead = pages.opened(token, past_ok=True)
    ext = current()
    form = ext.schema.forms.get(lead["form_id"])
    ics = messages.context(made, lead, sales=ext.sales, settings=ext.settings, domain=ext.mail_domain,
                           recipient=lead["email"], now=utcnow(), form=form)["ics"]
    response = make_response(ics)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8; method=REQUEST"
    response.headers["Content-Disposition"] = f'attachment; filename="{ICS_NAME}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
