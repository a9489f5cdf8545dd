"""The desk's lead page and the changes a team member makes to a lead there.

Sales and managers change leads, marketing only looks, only managers reassign and erase.
Lead values are shown as text (Jinja2 escapes them); nothing from a lead is rendered as HTML.
The routes are on views.bp (endpoints desk.lead_page, desk.change_status…).
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from capture.booking import appointments, meeting, outcomes
from capture.core import formatting
from capture.context import current
from capture.core.clock import utcnow
from capture.db import store
from capture.delivery import outbox
from capture.pipeline.lead_view import History, lead_context
from capture.desk.views import bp, name_of, require, sellers
from capture.pipeline import replies, stages, tray
from capture.privacy import erasure
from capture.pipeline.notices import slot_length

EVENT_LABELS = {"status": "Status", "note": "Note", "assign": "Reassigned", replies.MAIL: "Email",
                tray.RELEASED: "Not spam", tray.MARKED: "Spam", "booking": "Consultation",
                outcomes.HELD: "Consultation held", outcomes.NO_SHOW: "No-show"}
OUTCOMES = {outcomes.HELD: "held", outcomes.NO_SHOW: "a no-show"}


@bp.get("/leads/<lead_id>")
def lead_page(lead_id: str, error: str = "", status: int = 200):
    """Everything about one lead: answers, attribution, messages, the timeline, the actions."""
    ext = current()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        abort(404)
    form = ext.schema.forms.get(lead["form_id"])
    count, last = store.history(ext.engine, lead)
    shown = (lead_context(lead, form, History(count, last), ext.settings.timezone, slot_length(ext))
             if form else None)
    events = stages.timeline(ext.engine, lead_id)
    for event in events:
        event["actor_name"] = name_of(event["actor"]) or event["actor"]
        event["owner_name"] = name_of(event["owner"])
        event["value_text"] = formatting.money(event["deal_value"], ext.sales.currency)
    booked = appointments.latest(ext.engine, lead_id)
    if booked:
        how = meeting.of(booked, lead, ext.sales.consultation.meeting) if ext.sales.consultation else None
        booked = {"when": formatting.wall_time(booked["starts_at"], booked["ends_at"], ext.settings.timezone),
                  "how": meeting.to_host(how, lead["name"] or "") if how else "",
                  "host": name_of(booked["host"]), "cancelled": booked["status"] == appointments.CANCELLED,
                  "id": booked["id"], "started": booked["starts_at"] <= utcnow(),
                  "outcome": OUTCOMES.get(booked["outcome"]), "outcome_by": name_of(booked["outcome_by"])}
    return render_template(
        "desk/lead.html", lead=lead, shown=shown, events=events, error=error, booked=booked,
        messages=outbox.for_lead(ext.engine, lead_id), owner_name=name_of(lead["owner"]),
        times=None if lead["spam"] else stages.response_times(ext.sales, lead),
        value=formatting.money(lead["deal_value"], ext.sales.currency), currency=ext.sales.currency,
        statuses=stages.STATUSES, reasons=ext.sales.lost_reasons, team=sellers(),
        tz=ext.settings.timezone, event_labels=EVENT_LABELS), status


@bp.post("/leads/<lead_id>/status")
def change_status(lead_id: str):
    """Move the lead; won needs a value, lost a reason."""
    require(current_user.can_change)
    ext, form = current(), request.form
    return _apply(lead_id, lambda: stages.change_status(
        ext.engine, ext.sales, lead_id, stages.change_from(form.get("status", ""), form, ext.sales.currency),
        current_user.email),
        lambda event: f"Marked as {event['to_status']}.")


@bp.post("/leads/<lead_id>/note")
def add_note(lead_id: str):
    """Add a note to the timeline."""
    require(current_user.can_change)
    return _apply(lead_id, lambda: stages.add_note(
        current().engine, lead_id, request.form.get("note", ""), current_user.email), lambda _: "Note added.")


@bp.post("/leads/<lead_id>/assign")
def reassign(lead_id: str):
    """Give the lead to another salesperson (managers only)."""
    require(current_user.can_reassign)
    ext = current()
    return _apply(lead_id, lambda: stages.assign(
        ext.engine, ext.sales, lead_id, request.form.get("owner", ""), current_user.email),
        lambda event: f"Now {name_of(event['owner'])}'s lead.")


@bp.post("/leads/<lead_id>/not-spam")
def not_spam(lead_id: str):
    """Release a lead from the spam tray: owner, missed messages, pipeline."""
    require(current_user.can_change)
    return _apply(lead_id, lambda: tray.release(current(), lead_id, current_user.email),
                  lambda event: f"Not spam: now {name_of(event['owner'])}'s lead; its messages are on their way.")


@bp.post("/leads/<lead_id>/spam")
def mark_spam(lead_id: str):
    """Move a lead to the spam tray, out of the inbox and the numbers."""
    require(current_user.can_change)
    return _apply(lead_id, lambda: tray.hold(current(), lead_id, current_user.email),
                  lambda _: "Moved to the spam tray.")


@bp.post("/leads/<lead_id>/outcome")
def record_outcome(lead_id: str):
    """How the lead's meeting went: held or a no-show (after it started; the last answer wins)."""
    require(current_user.can_change)
    ext, form = current(), request.form
    made = appointments.get(ext.engine, form.get("booking", ""))
    if store.get_lead(ext.engine, lead_id) is None or made is None or made["lead_id"] != lead_id:
        abort(404)
    try:
        changed = outcomes.record_outcome(ext.engine, ext.sales, made["id"], form.get("outcome", ""),
                                              current_user.email, utcnow())
    except outcomes.NotYet as exc:
        return lead_page(lead_id, error=str(exc), status=409)
    except stages.NoSuchLead:
        abort(404)
    except stages.PipelineError as exc:
        return lead_page(lead_id, error=str(exc), status=422)
    flash(f"Recorded: the consultation was {OUTCOMES[changed['outcome']]}." if changed else "Nothing to change.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


@bp.post("/leads/<lead_id>/erase")
def erase(lead_id: str):
    """Erase the person behind the lead (managers only, after ticking the confirmation)."""
    require(current_user.can_reassign)
    ext = current()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        abort(404)
    if request.form.get("confirm") != "yes":
        return lead_page(lead_id, error="Tick the box to confirm the erasure: it cannot be undone.", status=422)
    if not lead["email"]:
        return lead_page(lead_id, error="This lead holds no address to erase by.", status=422)
    found = erasure.erase(ext.engine, ext.schema, lead["email"], current_user.email, utcnow(),
                          sales=ext.sales, domain=ext.mail_domain)
    flash(f"Erased: {found['leads']} lead(s) of this person, and their address on the messages about them.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


def _apply(lead_id: str, change, done):
    """Make a change to a lead, then back to its page with what happened (or the problem)."""
    try:
        event = change()
    except stages.NoSuchLead:
        abort(404)
    except stages.PipelineError as exc:
        return lead_page(lead_id, error=str(exc), status=422)
    flash(done(event) if event else "Nothing to change.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)
