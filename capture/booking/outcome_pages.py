"""The host's pages from the after-meeting email: "It was held" or "They did not show".

GET and HEAD show the meeting and one button (a mail scanner opening the link records
nothing); only the POST with the page's form token (core/link_forms.py) records, through
outcomes.record_outcome, as done by the address the email went to. Pressing it again
changes nothing; the other link, or the desk, changes the answer (the last one wins).
"""
from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template

from capture.booking import aftercare, appointments, outcomes
from capture.context import current
from capture.core import link_forms
from capture.core.clock import utcnow
from capture.core.formatting import wall_time
from capture.core.tokens import TokenError
from capture.db import store
from capture.pipeline.stages import NoSuchLead, PipelineError
from capture.schema.team import SELLING

bp = Blueprint("outcome_pages", __name__, url_prefix=aftercare.PAGES)
SHOWN = {aftercare.HELD: "held", aftercare.NO_SHOW: "a no-show"}


@bp.get("/<token>")
def show(token: str):
    """The meeting and the one button (GET and HEAD): it changes nothing."""
    link, made, lead = _opened(token)
    return _page(link, made, lead, token)


@bp.post("/<token>")
@link_forms.acts
def act(token: str):
    """The button: record the outcome, as the host the email went to."""
    link, made, lead = _opened(token)
    ext = current()
    try:
        changed = outcomes.record_outcome(ext.engine, ext.sales, made["id"], link.outcome, link.recipient,
                                              utcnow())
    except outcomes.NotYet as exc:
        return _page(link, made, lead, token, error=str(exc), status=409)
    except NoSuchLead:
        abort(_message("There is no such lead", "It may have been erased or marked as spam since.", 404))
    except PipelineError as exc:
        return _page(link, made, lead, token, error=str(exc), status=422)
    lead = store.get_lead(ext.engine, lead["id"])
    return render_template("desk/outcome_done.html", lead=lead, changed=changed is not None,
                           shown=SHOWN[link.outcome], desk_url=f"/desk/leads/{lead['id']}")


def _opened(token: str):
    """(link, booking, lead) for a token that can still record; otherwise the page saying why not (aborts)."""
    ext = current()
    try:
        link = aftercare.read_outcome(ext.settings.secret_key, token)
    except TokenError as exc:
        abort(_message("This link cannot be used", str(exc), exc.status))
    made = appointments.get(ext.engine, link.booking_id)
    lead = store.get_lead(ext.engine, made["lead_id"]) if made else None
    if made is None or lead is None or lead["spam"] or lead["anonymised_at"] is not None:
        abort(_message("There is no such meeting", "It may have been erased since the email was sent.", 404))
    member = ext.sales.member(link.recipient)
    if member is None or not member.roles & SELLING:
        abort(_message("This link no longer works", f"It was sent to {link.recipient}, who cannot change "
                       "leads now (sales.yml). Ask a salesperson or a manager.", 403))
    if made["status"] != appointments.BOOKED:
        abort(_message("This consultation was cancelled", "There is nothing to record about it.", 410))
    return link, made, lead


def _page(link, made: dict, lead: dict, token: str, error: str = "", status: int = 200):
    ext = current()
    return render_template(
        "desk/outcome.html", lead=lead, label=aftercare.LABELS[link.outcome], outcome=link.outcome,
        when=wall_time(made["starts_at"], made["ends_at"], ext.settings.timezone),
        recorded=SHOWN.get(made["outcome"]), started=made["starts_at"] <= utcnow(), who=link.recipient,
        error=error, form_token=link_forms.form_token(token)), status


def _message(title: str, message: str, status: int):
    return make_response(render_template("desk/message.html", title=title, message=message), status)
