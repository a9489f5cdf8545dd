"""One-click pages from sales emails: a GET shows, a POST acts.

Mail scanners open every link in a message within seconds of delivery, so
following a link never changes anything: it shows the lead's name, service and
status and one button (with the value or reason a change needs). The button
POSTs the signed token and a CSRF token; the change is made once, recorded as
done by the address the email went to, and shown with a link to the desk.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from .. import pipeline, store
from ..tokens import ACTIONS, TokenError, read_action

bp = Blueprint("actions", __name__, url_prefix="/actions")


@bp.route("/<token>", methods=["GET", "POST"])
def action(token: str):
    """The page for one action on one lead; the POST makes the change."""
    ext = current_app.extensions["capture"]
    try:
        link = read_action(ext.settings.secret_key, token)
    except TokenError as exc:
        return _problem("This link cannot be used", str(exc), exc.status)
    lead = store.get_lead(ext.engine, link.lead_id)
    if lead is None or lead["spam"]:
        return _problem("There is no such lead", "It may have been erased since the email was sent.", 404)
    if request.method == "GET":
        return _page(lead, link)
    try:
        event = pipeline.change_status(ext.engine, ext.sales, lead["id"],
                                       pipeline.change_from(link.action, request.form), link.recipient)
    except pipeline.PipelineError as exc:
        return _page(lead, link, error=str(exc), status=422)
    return render_template("desk/action_done.html", lead=store.get_lead(ext.engine, lead["id"]),
                           changed=event is not None, label=ACTIONS[link.action],
                           desk_url=f"/desk/leads/{lead['id']}")


def _page(lead: dict, link, error: str = "", status: int = 200):
    ext = current_app.extensions["capture"]
    form = ext.schema.forms.get(lead["form_id"])
    service = form.field("service") if form else None
    want = service.choice_label(lead["service"]) if service and lead["service"] else lead["company"]
    return render_template("desk/action.html", lead=lead, action=link.action, label=ACTIONS[link.action],
                           want=want or "", error=error, reasons=ext.sales.lost_reasons,
                           currency=ext.sales.currency, who=link.recipient), status


def _problem(title: str, message: str, status: int):
    return render_template("desk/message.html", title=title, message=message), status
