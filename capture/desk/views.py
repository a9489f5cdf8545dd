"""The desk's pages: the inbox, a lead, and the changes a team member makes to it.

Every page needs a signed-in team member; sales and managers change leads,
marketing only looks, and only managers reassign. Lead values are shown as
text (Jinja2 escapes them); nothing from a lead is ever rendered as HTML.
"""
from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user

from .. import appointments, inbox, outbox, pipeline, privacy, quarantine, store
from ..invites import wall_time
from ..clock import utcnow
from ..mail import History, lead_context
from .auth import RETURN_PATH

bp = Blueprint("desk", __name__, url_prefix="/desk")
EVENT_LABELS = {"status": "Status", "note": "Note", "assign": "Reassigned",
                quarantine.RELEASED: "Not spam", quarantine.MARKED: "Spam", "booking": "Consultation"}
EXCERPT = 300


def _ext():
    return current_app.extensions["capture"]


@bp.before_request
def signed_in_only():
    """Nothing under /desk/ without a session; after signing in, back to the page asked for."""
    if current_user.is_authenticated:
        return None
    if request.method == "GET" and RETURN_PATH.fullmatch(request.path):
        session["return_to"] = request.path
    return redirect(url_for("auth.sign_in"))


# --- the inbox -----------------------------------------------------------------

@bp.get("/", endpoint="inbox")
def inbox_page():
    """Open leads, overdue first: mine by default for a salesperson."""
    ext, args = _ext(), request.args
    default_owner = "me" if "sales" in current_user.roles else ""
    owner = args.get("owner", default_owner)
    filters = inbox.Filters(
        status=args.get("status", "open"), owner=current_user.email if owner == "me" else owner,
        form=args.get("form", ""), service=args.get("service", ""), campaign=args.get("campaign", ""),
        search=args.get("q", "")[:inbox.SEARCH_MAX], overdue=args.get("overdue") == "1")
    rows = inbox.find(ext.engine, filters, limit=200)
    now = utcnow()
    for row in rows:
        row["age"] = pipeline.working_span(ext.sales.calendar.between(row["received_at"], now))
        row["owner_name"] = _name(row["owner"])
        row["service_label"] = _service_label(row)
    return render_template("desk/inbox.html", rows=rows, filters=filters, owner=owner,
                           tray_size=inbox.tray_size(ext.engine) if current_user.can_change else 0,
                           choices=inbox.choices(ext.engine), team=_sellers(),
                           statuses=pipeline.STATUSES, tz=ext.settings.timezone)


# --- one lead --------------------------------------------------------------------

@bp.get("/leads/<lead_id>")
def lead_page(lead_id: str, error: str = "", status: int = 200):
    """Everything about one lead: answers, attribution, messages, the timeline, the actions."""
    ext = _ext()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        abort(404)
    form = ext.schema.forms.get(lead["form_id"])
    count, last = store.history(ext.engine, lead)
    shown = lead_context(lead, form, History(count, last), ext.settings.timezone) if form else None
    events = pipeline.timeline(ext.engine, lead_id)
    for event in events:
        event["actor_name"] = _name(event["actor"]) or event["actor"]
        event["owner_name"] = _name(event["owner"])
        event["value_text"] = pipeline.money(event["deal_value"], ext.sales.currency)
    booked = appointments.current(ext.engine, lead_id)
    if booked:
        booked = {"when": wall_time(booked["starts_at"], booked["ends_at"], ext.settings.timezone),
                  "host": _name(booked["host"])}
    return render_template(
        "desk/lead.html", lead=lead, shown=shown, events=events, error=error, booked=booked,
        messages=outbox.for_lead(ext.engine, lead_id), owner_name=_name(lead["owner"]),
        times=None if lead["spam"] else pipeline.response_times(ext.sales, lead),
        value=pipeline.money(lead["deal_value"], ext.sales.currency), currency=ext.sales.currency,
        statuses=pipeline.STATUSES, reasons=ext.sales.lost_reasons, team=_sellers(),
        tz=ext.settings.timezone, event_labels=EVENT_LABELS), status


@bp.post("/leads/<lead_id>/status")
def change_status(lead_id: str):
    """Move the lead; won needs a value, lost a reason."""
    _require(current_user.can_change)
    ext, form = _ext(), request.form
    return _apply(lead_id, lambda: pipeline.change_status(
        ext.engine, ext.sales, lead_id, pipeline.change_from(form.get("status", ""), form, ext.sales.currency),
        current_user.email),
        lambda event: f"Marked as {event['to_status']}.")


@bp.post("/leads/<lead_id>/note")
def add_note(lead_id: str):
    """Add a note to the timeline."""
    _require(current_user.can_change)
    return _apply(lead_id, lambda: pipeline.add_note(
        _ext().engine, lead_id, request.form.get("note", ""), current_user.email), lambda _: "Note added.")


@bp.post("/leads/<lead_id>/assign")
def reassign(lead_id: str):
    """Give the lead to another salesperson (managers only)."""
    _require(current_user.can_reassign)
    ext = _ext()
    return _apply(lead_id, lambda: pipeline.assign(
        ext.engine, ext.sales, lead_id, request.form.get("owner", ""), current_user.email),
        lambda event: f"Now {_name(event['owner'])}'s lead.")


@bp.post("/leads/<lead_id>/not-spam")
def not_spam(lead_id: str):
    """Release a lead from the spam tray: owner, missed messages, pipeline."""
    _require(current_user.can_change)
    return _apply(lead_id, lambda: quarantine.release(_ext(), lead_id, current_user.email),
                  lambda event: f"Not spam: now {_name(event['owner'])}'s lead; its messages are on their way.")


@bp.post("/leads/<lead_id>/spam")
def mark_spam(lead_id: str):
    """Move a lead to the spam tray, out of the inbox and the numbers."""
    _require(current_user.can_change)
    return _apply(lead_id, lambda: quarantine.hold(_ext(), lead_id, current_user.email),
                  lambda _: "Moved to the spam tray.")


# --- the spam tray ---------------------------------------------------------------

@bp.get("/spam")
def spam_tray():
    """Leads the filter held back, with its reasons, for sales and managers to review."""
    _require(current_user.can_change)
    rows = inbox.tray(_ext().engine, limit=200)
    for row in rows:
        row["excerpt"] = _excerpt(row)
    return render_template("desk/spam.html", rows=rows, tz=_ext().settings.timezone)


def _excerpt(row: dict) -> str:
    """The start of what they wrote, for judging at a glance."""
    form = _ext().schema.forms.get(row["form_id"])
    texts = [str((row["data"] or {}).get(f.name) or "") for f in form.fields if f.type == "textarea"] if form else []
    text = " ".join(" ".join(texts).split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"


@bp.post("/leads/<lead_id>/erase")
def erase(lead_id: str):
    """Erase the person behind the lead (managers only, after ticking the confirmation)."""
    _require(current_user.can_reassign)
    ext = _ext()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        abort(404)
    if request.form.get("confirm") != "yes":
        return lead_page(lead_id, error="Tick the box to confirm the erasure: it cannot be undone.", status=422)
    if not lead["email"]:
        return lead_page(lead_id, error="This lead holds no address to erase by.", status=422)
    found = privacy.erase(ext.engine, ext.schema, lead["email"], current_user.email, utcnow())
    flash(f"Erased: {found['leads']} lead(s) of this person, and their address on the messages about them.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


def _apply(lead_id: str, change, done):
    """Make a change to a lead, then back to its page with what happened (or the problem)."""
    try:
        event = change()
    except pipeline.NoSuchLead:
        abort(404)
    except pipeline.PipelineError as exc:
        return lead_page(lead_id, error=str(exc), status=422)
    flash(done(event) if event else "Nothing to change.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


def _service_label(row: dict) -> str:
    """'E-commerce site' for 'ecommerce' (the form's own label, without the price)."""
    form = _ext().schema.forms.get(row["form_id"])
    field = form.field("service") if form else None
    if not (field and row["service"]):
        return row["service"] or row["form_id"]
    return field.choice_label(row["service"]).split(" (")[0]


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def _name(email: str | None) -> str:
    member = _ext().sales.member(email) if email else None
    return member.name if member else (email or "")


def _sellers() -> list:
    return [m for m in _ext().sales.team if m.roles & {"sales", "manager"}]


@bp.errorhandler(403)
@bp.errorhandler(404)
def problem(error):
    titles = {403: "Not for your role", 404: "There is no such lead"}
    messages = {403: "Your role on the team (sales.yml) does not allow this change.",
                404: "It may have been erased, or the link was cut short."}
    return render_template("desk/message.html", title=titles[error.code],
                           message=messages[error.code]), error.code
