"""One-click pages from sales emails: GET (and HEAD) show, only the POST route acts.

Mail scanners open every link in a message within seconds of delivery, so
following a link never changes anything: it shows the lead's name, service and
status and one button (with the value or reason a change needs). The button
POSTs the signed token and a CSRF token; the change is made once, recorded as
done by the address the email went to, and shown with a link to the desk.
"""
from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request

from capture.pipeline import stages
from capture.pipeline.statuses import RANK
from capture.db import store
from capture.schema.team import SELLING
from capture.core.tokens import ACTIONS, BOOK_REQUESTED, TokenError, read_action
from capture.booking import pages
from capture.core import link_forms
from capture.desk import errors
from capture.context import current

bp = Blueprint("actions", __name__, url_prefix="/actions")


@bp.get("/<token>")
def show(token: str):
    """The page for one action on one lead (GET and HEAD): it changes nothing."""
    lead, link = _opened(token)
    if link.action == BOOK_REQUESTED:
        return pages.requested_page(lead, link.recipient, token)
    return _page(lead, link, token)


@bp.post("/<token>")
@link_forms.acts
def act(token: str):
    """The button: make the change, once, as the address the email went to."""
    lead, link = _opened(token)
    if link.action == BOOK_REQUESTED:
        return pages.book_requested(lead, link.recipient, token)
    ext = current()
    try:
        event = stages.change_status(ext.engine, ext.sales, lead["id"],
                                       stages.change_from(link.action, request.form, ext.sales.currency),
                                       link.recipient)
    except stages.PipelineError as exc:
        return _page(lead, link, token, error=str(exc), status=422)
    return _done(store.get_lead(ext.engine, lead["id"]), link, changed=event is not None)


def _opened(token: str):
    """(lead, link) for a token that can still act; otherwise the page saying why not (aborts)."""
    ext = current()
    try:
        link = read_action(ext.settings.secret_key, token)
    except TokenError as exc:
        abort(_problem("This link cannot be used", str(exc), exc.status))
    lead = store.get_lead(ext.engine, link.lead_id)
    if lead is None or lead["spam"] or lead["anonymised_at"] is not None:
        abort(_problem("There is no such lead", "It may have been erased since the email was sent.", 404))
    if not may_act(lead, link.recipient):
        abort(_problem("This link no longer works",
                       f"It was sent to {link.recipient}, who cannot change leads now (sales.yml). "
                       "Ask a salesperson or a manager.", 403))
    if link.action != BOOK_REQUESTED and RANK[lead["status"]] >= RANK[link.action]:
        abort(_done(lead, link, changed=False))  # an old email never moves a lead back
    return lead, link


def may_act(lead: dict, recipient: str) -> bool:
    """Still allowed, checked now: a salesperson or manager on the team, or a sales inbox of the lead's form."""
    ext = current()
    member = ext.sales.member(recipient)
    if member is not None:
        return bool(member.roles & SELLING)
    form = ext.schema.forms.get(lead["form_id"])
    inboxes = {address.lower() for address in form.recipients(lead["data"])} if form else set()
    return recipient.lower() in inboxes


def _done(lead: dict, link, changed: bool):
    return make_response(render_template("desk/action_done.html", lead=lead, changed=changed,
                                         label=ACTIONS[link.action], desk_url=f"/desk/leads/{lead['id']}"))


def _page(lead: dict, link, token: str, error: str = "", status: int = 200):
    ext = current()
    form = ext.schema.forms.get(lead["form_id"])
    service = form.field("service") if form else None
    want = service.choice_label(lead["service"]) if service and lead["service"] else lead["company"]
    return render_template("desk/action.html", lead=lead, action=link.action, label=ACTIONS[link.action],
                           want=want or "", error=error, reasons=ext.sales.lost_reasons,
                           currency=ext.sales.currency, who=link.recipient,
                           form_token=link_forms.form_token(token)), status


def _problem(title: str, message: str, status: int):
    return errors.page(title, message, status)
