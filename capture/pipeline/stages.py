"""The sales pipeline: statuses, the rules for changing them, events, owners, response times.

Every change to a lead is an event row (who, when, from, to, and the value,
reason or note that came with it); the lead row keeps the current state for
fast lists. Changes are idempotent: asking for the state a lead is already in
records nothing, so a repeated click or command is harmless.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from capture.core.amounts import AmountError, parse_amount
from capture.core.clock import utcnow
from capture.schema.forms import Form
from capture.schema.validation import CONTROL_CHARS
from capture.delivery.registry import Kind
from capture.db.models import events, leads, outbox
from capture.delivery.outbox import job, message_id, wake_workers
from capture.schema.sales import Sales
from capture.db.engine import writing
from capture.db.store import LEAD_ID, Turn
from capture.pipeline import speed
from capture.pipeline.statuses import STAGES, STATUSES, LeadStatus
from capture.delivery.webhooks import status_changed
from capture.delivery import amend

SYSTEM = "system"
NOTE_MAX = 5000
MAX_VALUE = 10 ** 11  # a billion in major units, in minor units: past any deal of this studio's


class PipelineError(ValueError):
    """A change that cannot be made; the message says why, in words for a person.

    `field` names the submitted field the message is about ('value', 'reason', 'note'), so a
    form can show it there; '' when it is about the change as a whole.
    """

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class NoSuchLead(PipelineError):
    """The lead id names no stored lead."""


@dataclass(frozen=True)
class Change:
    """A requested status change with what must come with it."""
    status: str
    value: int | None = None  # minor units (pence)
    reason: str | None = None
    note: str | None = None


# --- rules ---------------------------------------------------------------------

def check(sales: Sales, change: Change) -> Change:
    """The change, cleaned, or PipelineError: won needs a value; lost a listed reason (other: a note)."""
    note = _note(change.note, required=False)
    if change.status not in STATUSES:
        raise PipelineError(f"'{change.status}' is not a status (use one of {', '.join(STATUSES)})")
    if change.status == LeadStatus.WON and not (change.value and change.value > 0):
        raise PipelineError("A won lead needs its deal value.", field="value")
    if change.status == LeadStatus.LOST:
        if change.reason not in sales.lost_reasons:
            raise PipelineError(f"A lost lead needs a reason: one of {', '.join(sales.lost_reasons)}.",
                                field="reason")
        if change.reason == "other" and not note:
            raise PipelineError("Please say in a note why the lead was lost.", field="note")
    return Change(change.status, change.value if change.status == LeadStatus.WON else None,
                  change.reason if change.status == LeadStatus.LOST else None, note)


def _note(text: str | None, required: bool) -> str | None:
    """A note as typed, trimmed; PipelineError for one that is empty (if required), long or unprintable."""
    note = (text or "").strip()
    if not note:
        if required:
            raise PipelineError("The note is empty.", field="note")
        return None
    if len(note) > NOTE_MAX:
        raise PipelineError(f"Please keep the note under {NOTE_MAX} characters.", field="note")
    if CONTROL_CHARS.search(note):
        raise PipelineError("The note contains characters we cannot accept.", field="note")
    return note


def change_from(status: str, fields, currency: str = "GBP") -> Change:
    """A Change from submitted fields (`value`, `reason`, `note`), as the desk and email pages send them."""
    value = fields.get("value", "")
    return Change(status, parse_money(value, currency) if value.strip() else None,
                  fields.get("reason") or None, fields.get("note"))


def parse_money(text: str, currency: str = "GBP") -> int:
    """'6.2k', '6,200', '£6,200' or '6200.00' as minor units (pence); PipelineError (field `value`) otherwise.

    Read by core/amounts.py (Babel), in the business's own currency only.
    """
    try:
        minor = int(parse_amount(text, currency) * 100)
    except AmountError as exc:
        raise PipelineError(str(exc), field="value") from None
    if minor > MAX_VALUE:
        raise PipelineError(f"'{text}' is more than any deal could be; please check the amount.", field="value")
    return minor


# --- changes -------------------------------------------------------------------

def change_status(engine: Engine, sales: Sales, lead_id: str, change: Change, actor: str,
                  now: datetime | None = None) -> dict | None:
    """Move a lead (and record the event); None when it already is where it was asked to go."""
    change, now = check(sales, change), now or utcnow()
    with writing(engine) as conn:
        event, webhook_jobs = change_in(conn, sales, lead_id, change, actor, now)
    if webhook_jobs:
        wake_workers()
    return event


def change_in(conn, sales: Sales, lead_id: str, change: Change, actor: str,
              now: datetime) -> tuple[dict | None, list[dict]]:
    """change_status within the caller's transaction (a checked `change`): the event and the
    webhook jobs queued (wake the workers once committed); (None, []) when nothing changes."""
    lead = _locked(conn, lead_id)
    same = (lead["status"] == change.status and lead["deal_value"] == change.value
            and lead["lost_reason"] == change.reason and not change.note)
    if same:
        return None, []
    # The value belongs to a win: moving a lead anywhere else clears it (and the reason, a loss).
    values = {"status": change.status, "status_changed_at": now, "lost_reason": change.reason,
              "deal_value": change.value}
    if change.status != LeadStatus.NEW and lead["first_contact_at"] is None:
        values.update(first_contact(sales, lead["received_at"], now))
    if change.status in STAGES:
        values["stage_reached"] = max(lead["stage_reached"], STAGES[change.status])
    conn.execute(update(leads).where(leads.c.id == lead_id).values(**values))
    event = event_row(lead_id, now, actor, "status", from_status=lead["status"],
                      to_status=change.status, deal_value=change.value, reason=change.reason,
                      note=change.note)
    row_id = conn.execute(events.insert(), event).inserted_primary_key[0]
    # A note alone is no news to a CRM; a new status, value or reason is (webhooks.py).
    news = (lead["status"], lead["deal_value"], lead["lost_reason"]) != (change.status, change.value,
                                                                         change.reason)
    webhook_jobs = status_changed(sales, lead_id, row_id, now) if news else []
    if webhook_jobs:
        conn.execute(outbox.insert(), webhook_jobs)
    return event, webhook_jobs


def add_note(engine: Engine, lead_id: str, text: str, actor: str, now: datetime | None = None) -> dict:
    """Record a note on a lead (an event, like every change)."""
    note = _note(text, required=True)
    with writing(engine) as conn:
        _locked(conn, lead_id)
        event = event_row(lead_id, now or utcnow(), actor, "note", note=note)
        conn.execute(events.insert(), event)
    return event


def assign(engine: Engine, sales: Sales, lead_id: str, owner: str, actor: str, domain: str,
           now: datetime | None = None) -> dict | None:
    """Give a lead to another salesperson or manager; None if they already own it.

    The new owner is emailed the lead (notices.py), queued in this transaction, unless they took
    it themselves; the worker drops that mail if the lead has changed hands again by then.
    """
    member, now = sales.member(owner), now or utcnow()
    if member is None or not member.roles & {"sales", "manager"}:
        raise PipelineError(f"{owner} is not a salesperson or manager on the team (sales.yml).")
    with writing(engine) as conn:
        lead = _locked(conn, lead_id)
        if lead["owner"] == member.email:
            return None
        conn.execute(update(leads).where(leads.c.id == lead_id).values(owner=member.email))
        amend.readdress_reminder(conn, lead_id, member.email)
        event = event_row(lead_id, now, actor, "assign", owner=member.email,
                       note=f"from {lead['owner'] or 'nobody'}")
        row_id = conn.execute(events.insert(), event).inserted_primary_key[0]
        told = actor.strip().lower() != member.email.lower()
        if told:
            conn.execute(outbox.insert(), job(lead_id, Kind.REASSIGNED, member.email,
                                              message_id(lead_id, f"assign-{row_id}", domain), now))
    if told:
        wake_workers()
    return event


def event_row(lead_id: str, at: datetime, actor: str, kind: str, **values) -> dict:
    return {"lead_id": lead_id, "at": at, "actor": actor, "kind": kind, "from_status": None,
            "to_status": None, "owner": None, "deal_value": None, "reason": None, "note": None,
            **values}


def _locked(conn, lead_id: str) -> dict:
    """The lead (not in the spam tray), locked for this transaction."""
    return locked(conn, select(leads.c.status, leads.c.owner, leads.c.deal_value, leads.c.lost_reason,
                               leads.c.first_contact_at, leads.c.received_at, leads.c.stage_reached)
                  .where(leads.c.id == lead_id, leads.c.spam.is_(False)), lead_id)


def locked(conn, query, lead_id: str) -> dict:
    """The lead `query` finds, locked for this transaction (SQLite's BEGIN IMMEDIATE already is).

    An id that cannot be a lead's (store.LEAD_ID) is no such lead before any query: PostgreSQL
    refuses a NUL in a string outright (DataError), and every caller should hear "no such lead".
    """
    if not LEAD_ID.fullmatch(lead_id or ""):
        raise NoSuchLead("There is no lead with that id.")
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).mappings().first()
    if found is None:
        raise NoSuchLead(f"There is no lead {lead_id}.")
    return dict(found)


def timeline(engine: Engine, lead_id: str) -> list[dict]:
    """A lead's events, oldest first."""
    query = select(events).where(events.c.lead_id == lead_id).order_by(events.c.at, events.c.id)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


# --- owners --------------------------------------------------------------------

def owner_for(sales: Sales, form: Form, values: dict) -> str | Turn:
    """Who owns a new lead from this form, by sales.yml's rule for it (never nobody).

    A round robin is a `Turn`: whose turn it is is read in the lead's own
    transaction (store.LeadWriter), so no query runs before it.
    """
    rule = sales.owners.get(form.id)
    if rule is not None and rule.strategy == "round_robin":
        return Turn(form.id, tuple(rule.members))
    for address in form.recipients(values):
        member = sales.member(address)
        if member is not None and member.roles & {"sales", "manager"}:
            return member.email
    return sales.fallback_owner


# --- the response clock --------------------------------------------------------

def response_times(sales: Sales, lead: dict, now: datetime | None = None) -> dict:
    """Speed to lead: received to first contact (or to now, if still waiting), wall and working time.

    Overdue past the promise of the lead's own form (sales.yml `response`), as the desk's list
    counts it (the lead's `respond_by`, set on arrival by due_at); `self_booked`
    when the visitor booked a time with the form, which no person answered (speed.self_booked).
    """
    end = lead.get("first_contact_at") or now or utcnow()
    wall = max(timedelta(0), end - lead["received_at"])
    working = sales.calendar.between(lead["received_at"], end)
    return {"waiting": lead.get("first_contact_at") is None, "self_booked": speed.self_booked(lead),
            "wall_minutes": round(wall.total_seconds() / 60, 1),
            "working_minutes": round(working.total_seconds() / 60, 1),
            "overdue": end > due_at(sales, clock_start(lead), lead.get("form_id"))}


def first_contact(sales: Sales, received_at: datetime, now: datetime) -> dict:
    """The lead's columns for its first contact now: the moment, and the working minutes it took.

    Counted from arrival, as response_times counts (a lead held in the spam tray too: the desk
    says it was held), so the report's median and a lead's own page agree.
    """
    minutes = sales.calendar.between(received_at, now).total_seconds() / 60
    return {"first_contact_at": now, "first_response_minutes": round(minutes)}


def clock_start(lead: dict) -> datetime:
    """When the team could first see the lead: its arrival, or its release from the spam tray."""
    return lead.get("released_at") or lead["received_at"]


def due_at(sales: Sales, received_at: datetime, form_id: str | None) -> datetime:
    """When the first-contact promise of the form `form_id` runs out for a lead received then."""
    return sales.calendar.add(received_at, sales.promise(form_id).first_contact)


# --- reminders and escalations ---------------------------------------------------

def followups(sales: Sales, lead: dict, domain: str, now: datetime) -> list[dict]:
    """The owner's reminder and the managers' escalation, due in working time (none for spam).

    When they are due is the lead's form's promise (sales.yml `response`, per form).

    Whether each is still wanted is decided when it is due (worker.py): a lead
    contacted by then gets neither.
    """
    if lead["spam"] or not lead.get("owner") or lead.get("status", LeadStatus.NEW) != LeadStatus.NEW:
        return []  # a booked lead was answered at once: nothing to remind anyone of
    start, promise = clock_start(lead), sales.promise(lead.get("form_id"))
    remind_at = sales.calendar.add(start, promise.remind_after)
    escalate_at = sales.calendar.add(start, promise.escalate_after)
    jobs = [job(lead["id"], Kind.REMIND_OWNER, lead["owner"], message_id(lead["id"], "remind", domain),
                now, due=remind_at)]
    jobs += [job(lead["id"], Kind.ESCALATE, manager.email,
                 message_id(lead["id"], f"escalate-{i}", domain), now, due=escalate_at)
             for i, manager in enumerate(sales.with_role("manager"))]
    return jobs


def followup_context(sales: Sales, lead: dict, now: datetime) -> dict:
    """What a reminder or an escalation says: how long the lead has waited, its owner, the promise."""
    owner = sales.member(lead.get("owner") or "")
    return {"waited": working_span(sales.calendar.between(clock_start(lead), now)),
            "promise": sales.promise_words(lead.get("form_id")),
            "due": due_at(sales, clock_start(lead), lead.get("form_id")),
            "owner": lead.get("owner") or "", "owner_name": owner.name if owner else "nobody"}


def working_span(span: timedelta) -> str:
    """30 minutes as '30 working minutes', 75 as '1 working hour 15 minutes'."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} working minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    text = f"{hours} working hour{'s' if hours != 1 else ''}"
    return text + (f" {rest} minute{'s' if rest != 1 else ''}" if rest else "")
