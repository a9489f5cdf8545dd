"""Booked consultations in the database: the only code that books, moves, re-hosts or cancels one.

Which times are free is booking/slots.py's pure answer; this module asks it inside
the write transaction, so the answer cannot go stale before the insert. Two
things make a double booking impossible with any number of processes: on
PostgreSQL every booking transaction first takes one advisory lock (bookings
are rare, so queueing them costs nothing, and buffers between meetings are
kept too); on SQLite BEGIN IMMEDIATE already queues writers. The partial
unique index on (host, start) of booked rows is the last word on both.

Every change is an event on the lead and queues its messages in the same
transaction (outgoing.py): the visitor and the host each get the updated
invitation (`Kind.BOOKING_UPDATE`, same UID, SEQUENCE one higher), and the visitor
a reminder the day before, each bound to the booking's SEQUENCE so a message
about a time since moved or cancelled is never sent (worker.py). A booking
made, moved or cancelled also queues the webhooks that want it (webhooks.py).
What it does to the lead (status, owner, events) is the pipeline's to write
(pipeline/consultations.py). The spam tray, erasure, the desk and the email
pages all come here; tests/test_owners.py fails if anything else writes a booking.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from capture.booking import outgoing, slots, surge
from capture.booking.lookup import (
    BOOKED,
    CANCELLED,
    FORMER_HOST,
    NEW_HOST,
    booked,
    booking_row,
    busy_between,
    business_time,
    current,
    free,
    get,
    latest,
    next_free,
    open_booking,
    still_current,
    window,
    writable_lead,
)
from capture.booking.slots import Slot
from capture.db.models import bookings, leads, outbox
from capture.db.engine import writing
from capture.delivery.webhooks import BOOKING_CANCELLED, BOOKING_CREATED, BOOKING_MOVED, booking_event
from capture.pipeline import consultations
from capture.pipeline.stages import PipelineError
from capture.schema.sales import Sales
from capture.delivery.status import JobStatus

# What callers read here too: one module to ask about bookings.
__all__ = ["AlreadyBooked", "Booked", "SlotTaken", "BOOKED", "CANCELLED", "FORMER_HOST", "NEW_HOST", "VISITOR",
           "REASON_MARK", "book_requested", "book_with_lead", "cancel", "cancel_upcoming", "after_release",
           "forget", "forget_reasons", "move",
           "busy_between", "current", "free", "get", "latest", "next_free", "open_booking", "still_current"]

VISITOR = "visitor"  # the actor of what the visitor does
LOCK_KEY = 872412  # the PostgreSQL advisory lock all bookings take in turn
MOVING = "moving"  # a booking's status for the moment its own time is not in the way of its new one
REASON_MARK = "\nTheir reason: "  # how a cancel's timeline note quotes the visitor's reason


class SlotTaken(PipelineError):
    """The time asked for is not offered (any more): someone else took it, or it never was."""

    def __init__(self, message: str = "That time was just taken. Please pick another."):
        super().__init__(message)


class AlreadyBooked(PipelineError):
    """The address already holds a consultation not over yet: one at a time per person."""

    def __init__(self, booking: dict):
        super().__init__("This email address already has a consultation booked.")
        self.booking = booking


@dataclass(frozen=True)
class Booked:
    """What a booking made: the lead row as stored and the booking row."""
    lead: dict
    booking: dict


# --- booking ----------------------------------------------------------------------

def book_with_lead(engine: Engine, sales: Sales, row: dict, start: datetime, jobs_for, domain: str,
                   now: datetime, alert_after: int = 0, kind: str | None = None, zone: str | None = None) -> Booked:
    """Store a new lead and book it `start`, in one transaction; SlotTaken if it is not offered.

    `kind` is how the visitor chose to meet (meeting.chosen; default the first kind offered)
    and `zone` their IANA zone (None: the studio's), which their messages show times in.

    The lead's owner becomes the host, its status `consultation` and its first
    contact now: the visitor was answered at once. AlreadyBooked if the address
    holds a consultation not over yet: decided in the turn, so two racing
    requests for one address cannot both pass. More than `alert_after` bookings
    in the last hour queue the managers' alert (surge.py), once an hour.
    """
    try:
        with writing(engine) as conn:
            _take_turn(conn)
            held = open_booking(conn, row.get("email"), now)
            if held is not None:
                raise AlreadyBooked(held)
            slot, host = _choose(conn, sales, start, now)
            lead = consultations.arrived_booked(conn, sales, row, host, VISITOR, now)
            made = _insert(conn, lead["id"], slot, host, now, _kind(sales, kind), zone)
            # jobs_for has lead.created (with the status consultation); the booking is news of its own.
            conn.execute(outbox.insert(), jobs_for(lead) + outgoing.reminder(made, lead, domain, now)
                         + booking_event(sales, BOOKING_CREATED, made, now)
                         + surge.alert_jobs(conn, sales, alert_after, domain, now))
    except IntegrityError as exc:  # the unique index: another process won (the lock makes this rare)
        raise SlotTaken() from exc
    return Booked(lead, made)


def book_requested(engine: Engine, sales: Sales, lead_id: str, start: datetime, actor: str, domain: str,
                   now: datetime, kind: str | None = None, zone: str | None = None) -> Booked:
    """Sales confirm a time for a lead that asked for one: booked as if the visitor had picked it.

    `kind` and `zone` as the visitor's request chose them (meeting.chosen), as for book_with_lead.
    """
    try:
        with writing(engine) as conn:
            _take_turn(conn)
            lead = writable_lead(conn, lead_id)
            if booked(conn, lead_id) is not None:
                raise PipelineError("This lead already has a consultation booked.")
            slot, host = _choose(conn, sales, start, now)
            made = _insert(conn, lead_id, slot, host, now, _kind(sales, kind), zone)
            lead, moved_on = consultations.booked_for(
                conn, sales, lead, host, actor, now=now,
                note=f"booked the consultation they asked for ({business_time(sales, slot.start)})")
            conn.execute(outbox.insert(), outgoing.updates(made, lead, domain, now)
                         + outgoing.reminder(made, lead, domain, now)
                         + moved_on + booking_event(sales, BOOKING_CREATED, made, now))
    except IntegrityError as exc:
        raise SlotTaken() from exc
    return Booked(lead, made)


def cancel(engine: Engine, sales: Sales, booking_id: str, actor: str, domain: str, now: datetime,
           reason: str | None = None) -> dict | None:
    """Cancel a booking (frees the time, tells visitor and host); None if it already was.

    The visitor's `reason`, if they gave one, is kept on the booking and quoted on the
    lead's timeline (visitor text: the desk escapes it like every note).
    """
    with writing(engine) as conn:
        _take_turn(conn)
        made = booking_row(conn, booking_id)
        if made["status"] != BOOKED:
            return None
        lead = writable_lead(conn, made["lead_id"])
        note = f"cancelled the consultation on {business_time(sales, made['starts_at'])}"
        return end(conn, sales, made, lead, actor, domain, now,
                   note=f"{note}{REASON_MARK}{reason}" if reason else note, reason=reason or None)


def cancel_upcoming(conn: Connection, sales: Sales, lead_id: str, actor: str, domain: str, now: datetime,
                    note: str) -> list[dict]:
    """Cancel a lead's meetings still to come, in the caller's transaction, telling the host only.

    For the spam tray and erasure: a bot's address gets no mail from us, and someone who
    asked to be forgotten is not written to again. Past meetings stay as history.
    """
    _take_turn(conn)
    found = conn.execute(select(bookings).where(bookings.c.lead_id == lead_id, bookings.c.status == BOOKED,
                                                bookings.c.starts_at > now)).mappings().all()
    if not found:
        return []
    lead = dict(conn.execute(select(leads).where(leads.c.id == lead_id)).mappings().one())
    return [end(conn, sales, dict(made), lead, actor, domain, now, note=note, tell_visitor=False,
                lead_goes_on=False) for made in found]


def end(conn: Connection, sales: Sales, made: dict, lead: dict, actor: str, domain: str, now: datetime,
        note: str, tell_visitor: bool = True, lead_goes_on: bool = True, reason: str | None = None) -> dict:
    """The one place a booking ends: the time is freed and everyone who had it is told.

    SEQUENCE goes up and the host (and the visitor, unless `tell_visitor` is off) get a
    CANCEL, so no calendar keeps a meeting that no longer exists; `slots.cancelled` goes
    to the webhooks. A lead in the pipeline whose only consultation this was is back to
    `contacted` (the inbox then shows the consultation as cancelled, not as coming).
    """
    changed = {**made, "status": CANCELLED, "sequence": made["sequence"] + 1, "changed_at": now,
               "cancel_reason": reason}
    conn.execute(update(bookings).where(bookings.c.id == made["id"]).values(
        status=CANCELLED, sequence=changed["sequence"], changed_at=now, cancel_reason=reason))
    consultations.record(conn, made["lead_id"], now, actor, "booking", note=note)
    jobs = (outgoing.updates(changed, lead if tell_visitor else {**lead, "email": None}, domain, now)
            + booking_event(sales, BOOKING_CANCELLED, changed, now))
    if lead_goes_on:
        jobs += _no_consultation_left(conn, sales, lead, actor, now)
    conn.execute(outbox.insert(), jobs)
    return changed


def _no_consultation_left(conn: Connection, sales: Sales, lead: dict, actor: str, now: datetime) -> list[dict]:
    """A lead at `consultation` without a booked meeting any more is back at `contacted` (its webhook)."""
    if booked(conn, lead["id"]) is not None:
        return []
    return consultations.called_off(conn, sales, lead, actor, now)


def after_release(conn: Connection, sales: Sales, lead: dict, actor: str, domain: str, now: datetime) -> list[dict]:
    """A lead back from the spam tray: the meetings its spam mark cancelled are off for the visitor too.

    The mark told only the host. A real visitor who already had the invitation gets the
    cancellation now (the jobs returned: the caller queues those not written yet, so the host's
    is not sent twice), and a lead at `consultation` with no meeting left is back at `contacted`.
    The time may be booked by someone else meanwhile, so nothing is rebooked: sales book it again
    from the notification, or the visitor does.
    """
    told = conn.execute(select(outbox.c.id).where(
        outbox.c.lead_id == lead["id"], outbox.c.status == JobStatus.SENT,
        func.lower(outbox.c.recipient) == str(lead.get("email") or "").lower())).first() is not None
    ended = conn.execute(select(bookings).where(bookings.c.lead_id == lead["id"], bookings.c.status == CANCELLED,
                                                bookings.c.starts_at > now)).mappings().all()
    jobs = [j for made in ended for j in outgoing.updates(dict(made), lead, domain, now)] if told else []
    return jobs + _no_consultation_left(conn, sales, lead, actor, now)


def move(engine: Engine, sales: Sales, booking_id: str, start: datetime, actor: str, domain: str,
         now: datetime, host: str | None = None) -> dict | None:
    """Move a booking to another offered time in one transaction; None if it is already there.

    The host stays when free then; otherwise it changes (whoever is free then): the host
    who loses the meeting gets a CANCEL and the one who gains it a REQUEST. The booking keeps its id, so its UID, and
    its SEQUENCE goes up. `host` (the desk) asks for that host, at the same time too; SlotTaken if they are not free then.
    """
    try:
        with writing(engine) as conn:
            _take_turn(conn)
            made = booking_row(conn, booking_id)
            if made["status"] != BOOKED:
                raise PipelineError("This consultation was cancelled; please book a new one.")
            if made["starts_at"] == start and (host is None or host.strip().lower() == made["host"]):
                return None
            # Its own time is not in the way of its new one.
            conn.execute(update(bookings).where(bookings.c.id == booking_id).values(status=MOVING))
            slot, host = _choose(conn, sales, start, now, keep=made["host"], only=host)
            changed = {**made, "host": host, "starts_at": slot.start, "ends_at": slot.end,
                       "sequence": made["sequence"] + 1, "changed_at": now}
            conn.execute(update(bookings).where(bookings.c.id == booking_id).values(
                status=BOOKED, host=host, starts_at=slot.start, ends_at=slot.end,
                sequence=changed["sequence"], changed_at=now))
            lead = consultations.rehosted(conn, writable_lead(conn, made["lead_id"]), host)
            consultations.record(
                conn, made["lead_id"], now, actor, "booking", owner=host,
                note=f"moved the consultation from {business_time(sales, made['starts_at'])} to {business_time(sales, slot.start)}")
            told = (outgoing.handed_over(changed, made["host"], lead, domain, now) if host != made["host"]
                    else outgoing.updates(changed, lead, domain, now))
            conn.execute(outbox.insert(), told + outgoing.reminder(changed, lead, domain, now)
                         + booking_event(sales, BOOKING_MOVED, changed, now))
    except IntegrityError as exc:
        raise SlotTaken() from exc
    return changed


def forget_reasons(conn: Connection, lead_id: str) -> None:
    """Erasure: the visitor's words when cancelling, and the zone their browser was in, go with the
    rest of what they told us (the times stay, as the host's calendar history)."""
    conn.execute(update(bookings).where(bookings.c.lead_id == lead_id).values(cancel_reason=None, visitor_zone=None))


def forget(conn: Connection, lead_ids: list[str]) -> None:
    """Delete these leads' bookings with the leads (retention deleting old spam): nothing is told.

    A lead in the spam tray had its meetings to come cancelled when it was marked,
    with the host's CANCEL; what is left is history.
    """
    conn.execute(delete(bookings).where(bookings.c.lead_id.in_(lead_ids)))


# --- the parts ----------------------------------------------------------------------

def _take_turn(conn: Connection) -> None:
    """Bookings queue one at a time (SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _choose(conn: Connection, sales: Sales, start: datetime, now: datetime,
            keep: str | None = None, only: str | None = None) -> tuple[Slot, str]:
    """The slot starting at `start` if offered now, and the host it goes to; SlotTaken if not offered.

    `keep` (a moved meeting's host) keeps it when free then: the visitor keeps the person they
    expect; otherwise the day's meetings are spread across the hosts as for a new booking.
    `only` (a host asked for) gets it or nobody does.
    """
    day = sales.calendar.local_date(start)
    window_start, window_end = window(sales, day, 1)
    busy = busy_between(conn, window_start, window_end)
    slot = slots.is_offered(sales, busy, start, now)
    if slot is None:
        raise SlotTaken()
    if only:
        if only.strip().lower() not in slot.hosts:
            raise SlotTaken("That host is not free then. Please pick another time or host.")
        return slot, only.strip().lower()
    kept = [host for host in slot.hosts if keep and host == keep.strip().lower()]
    if kept:
        return slot, kept[0]
    return slot, slots.pick_host(slot, slots.bookings_on(sales, busy, day))


def _kind(sales: Sales, kind: str | None) -> str:
    """The kind asked for if offered, else the first offered (one kind: nothing to choose)."""
    offered = sales.consultation.meeting.kinds
    return kind if kind in offered else offered[0]


def _insert(conn: Connection, lead_id: str, slot: Slot, host: str, now: datetime, kind: str,
            zone: str | None) -> dict:
    # A lead's bookings made by sales share one UID (messages.uid): a new one after a cancelled
    # one must carry a higher SEQUENCE than that CANCEL, or calendars ignore it.
    before = conn.execute(select(func.max(bookings.c.sequence)).where(bookings.c.lead_id == lead_id)).scalar()
    made = {"id": secrets.token_urlsafe(16), "lead_id": lead_id, "host": host, "starts_at": slot.start,
            "ends_at": slot.end, "status": BOOKED, "sequence": 0 if before is None else before + 1,
            "created_at": now, "changed_at": None, "meeting_kind": kind, "visitor_zone": zone}
    conn.execute(bookings.insert(), made)
    return made
