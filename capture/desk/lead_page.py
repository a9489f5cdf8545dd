"""The desk's lead page and the changes a team member makes to a lead there.

Sales and managers change leads, marketing only looks, only managers reassign and erase.
Lead values are shown as text (Jinja2 escapes them); nothing from a lead is rendered as HTML.
The status form is one form per kind of move, each with only the fields that move needs (a
button per status; won asks for the value, lost for the reason), so it works without JavaScript.
A refused change shows the page again with what was typed and the message at its field.
Moving and cancelling a booked call is calls.py's, erasing erase_page.py's (the danger section).
The routes are on views.bp (endpoints desk.lead_page, desk.change_status…).
"""
from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from capture.booking import appointments, meeting, outcomes
from capture.core import formatting
from capture.context import current
from capture.core.clock import utcnow
from capture.core.durations import span_text
from capture.db import store
from capture.delivery import outbox
from capture.desk import call_times
from capture.pipeline.lead_view import History, lead_context
from capture.desk.views import bp, name_of, require, sellers
from capture.pipeline import replies, stages, tray
from capture.pipeline.next_step import next_step
from capture.pipeline.notices import slot_length
from capture.pipeline.statuses import OPEN_STATUSES, LeadStatus

EVENT_LABELS = {"status": "Status", "note": "Note", "assign": "Reassigned", replies.MAIL: "Email",
                tray.RELEASED: "Not spam", tray.MARKED: "Spam", "booking": "Consultation",
                outcomes.HELD: "Consultation held", outcomes.NO_SHOW: "No-show"}
OUTCOMES = {outcomes.HELD: "held", outcomes.NO_SHOW: "a no-show"}
# Which of the page's status forms a move belongs to: it opens again, with the message, if refused.
FORM_OF = {LeadStatus.WON: "won", LeadStatus.LOST: "lost"}


@bp.get("/leads/<lead_id>")
def lead_page(lead_id: str, error: str = "", status: int = 200, errors: dict | None = None,
              typed: dict | None = None, opened: str = ""):
    """Everything about one lead: answers, attribution, messages, the timeline, the actions.

    After a refused change: `errors` by field name, `typed` what was sent (shown again), and
    `opened` the form it came from (won, lost, progress, move).
    """
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
    made, now = appointments.latest(ext.engine, lead_id), utcnow()
    booked = _booked(made, lead, now) if made else None
    times = None if lead["spam"] else stages.response_times(ext.sales, lead, now)
    return render_template(
        "desk/lead.html", lead=lead, shown=shown, events=events, error=error, booked=booked,
        errors=errors or {}, typed=typed or {}, opened=opened,
        step=None if lead["spam"] else next_step({**lead, "overdue": times["overdue"]}, _with_canceller(made, events),
                                                  ext.sales, ext.settings.timezone, now),
        calls=call_times.choices() if booked and booked["movable"] and current_user.can_change else None,
        messages=outbox.for_lead(ext.engine, lead_id), owner_name=name_of(lead["owner"]),
        times=times, spans=_spans(times),
        value=formatting.money(lead["deal_value"], ext.sales.currency), currency=ext.sales.currency,
        moves=[s for s in OPEN_STATUSES if s != lead["status"]], reasons=ext.sales.lost_reasons,
        team=sellers(), tz=ext.settings.timezone, event_labels=EVENT_LABELS), status


def _booked(made: dict, lead: dict, now) -> dict:
    """The lead's latest consultation as the page words it."""
    ext = current()
    how = meeting.of(made, lead, ext.sales.consultation.meeting) if ext.sales.consultation else None
    cancelled = made["status"] == appointments.CANCELLED
    return {"when": formatting.wall_time(made["starts_at"], made["ends_at"], ext.settings.timezone),
            "how": meeting.to_host(how, lead["name"] or "") if how else "",
            "host": name_of(made["host"]), "cancelled": cancelled, "id": made["id"],
            "started": made["starts_at"] <= now, "movable": not cancelled and made["starts_at"] > now
            and not lead["spam"] and ext.sales.consultation is not None,
            "outcome": OUTCOMES.get(made["outcome"]), "outcome_by": name_of(made["outcome_by"])}


def _with_canceller(made: dict | None, events: list[dict]) -> dict | None:
    """The consultation with who cancelled it (the last booking event's actor), as search.calls gives it."""
    if made is None or made["status"] == appointments.BOOKED:
        return made
    actors = [e["actor"] for e in events if e["kind"] == "booking"]
    return {**made, "cancelled_by": actors[-1] if actors else None}


def _spans(times: dict | None) -> dict:
    """Speed to lead in the desk's one duration format (durations.span_text)."""
    if not times:
        return {}
    return {"working": span_text(timedelta(minutes=times["working_minutes"])),
            "wall": span_text(timedelta(minutes=times["wall_minutes"]))}


@bp.post("/leads/<lead_id>/status")
def change_status(lead_id: str):
    """Move the lead; won needs a value, lost a reason. A refusal keeps what was typed, at its field."""
    require(current_user.can_change)
    ext, form = current(), request.form
    wanted = form.get("status", "")
    try:
        event = stages.change_status(ext.engine, ext.sales, lead_id,
                                     stages.change_from(wanted, form, ext.sales.currency), current_user.email)
    except stages.NoSuchLead:
        abort(404)
    except stages.PipelineError as exc:
        opened = FORM_OF.get(wanted, "progress")
        return lead_page(lead_id, error="" if exc.field else str(exc), status=422,
                         errors={f"{opened}-{exc.field}": str(exc)} if exc.field else {},
                         typed={f"{opened}-{name}": value for name, value in form.items()}, opened=opened)
    flash(f"Marked as {event['to_status']}." if event else "Nothing to change.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


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
        ext.engine, ext.sales, lead_id, request.form.get("owner", ""), current_user.email, ext.mail_domain),
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
