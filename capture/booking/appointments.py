"""Booked consultations in the database: booking with the lead, by sales, cancelling, moving.

Which times are free is booking/slots.py's pure answer; this module asks it inside
the write transaction, so the answer cannot go stale before the insert. Two
things make a double booking impossible with any number of processes: on
PostgreSQL every booking transaction first takes one advisory lock (bookings
are rare, so queueing them costs nothing, and buffers between meetings are
kept too); on SQLite BEGIN IMMEDIATE already queues writers. The partial
unique index on (host, start) of booked rows is the last word on both.

Every change is an event on the lead and queues its messages in the same
transaction: the visitor and the host each get the updated invitation
(`BOOKING_UPDATE`, same UID, SEQUENCE one higher), and the visitor a reminder
the day before (`REMIND_VISITOR`), each bound to the booking's SEQUENCE so a
message about a time since moved or cancelled is never sent (worker.py).
A booking made or cancelled also queues the webhooks that want it (webhooks.py).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from capture.booking import slots
from capture.booking import surge
from capture.booking.slots import Busy, Slot
from capture.core.formatting import local_time
from capture.delivery.mail import BOOKING_UPDATE, REMIND_VISITOR
from capture.db.models import bookings, events, leads, outbox
from capture.delivery.outbox import job
from capture.pipeline.stages import NoSuchLead, PipelineError, RANK, STAGES, event_row, first_contact
from capture.schema.sales import Sales
from capture.db.store import writing
from capture.delivery.webhooks import (
    BOOKING_CANCELLED,
    BOOKING_CREATED,
    BOOKING_MOVED,
    booking_event,
    status_changed,
)

BOOKED, CANCELLED = "booked", "cancelled"
REMIND_BEFORE = timedelta(hours=24)
VISITOR = "visitor"  # the actor of what the visitor does
# A moved meeting that changed hands: the ref of the CANCEL to its first host and of the new host's REQUEST.
FORMER_HOST, NEW_HOST = "former-host", "new-host"
LOCK_KEY = 872412  # the PostgreSQL advisory lock all bookings take in turn
NEXT_FREE = 5  # how many other times a 409 offers
LONGEST_MEETING = timedelta(days=1)  # bounds the search for a meeting not over yet to the starts_at index


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


# --- reading --------------------------------------------------------------------

def busy_between(conn: Connection | Engine, start: datetime, end: datetime) -> list[Busy]:
    """The booked meetings that touch start..end (widen by the buffer before asking)."""
    query = select(bookings.c.host, bookings.c.starts_at, bookings.c.ends_at).where(
        bookings.c.status == BOOKED, bookings.c.starts_at < end, bookings.c.ends_at > start)
    if isinstance(conn, Engine):
        with conn.connect() as own:
            return [Busy(*row) for row in own.execute(query)]
    return [Busy(*row) for row in conn.execute(query)]


def free(engine: Engine, sales: Sales, first_day: date, days: int, now: datetime) -> list[Slot]:
    """The slots offered now on these business-local days (none outside today..the horizon)."""
    today = sales.calendar.local_date(now)
    last = min(first_day + timedelta(days=days), today + timedelta(days=sales.consultation.horizon_days)) \
        if first_day <= today + timedelta(days=sales.consultation.horizon_days) else today
    first_day = max(first_day, today)
    if last <= first_day:
        return []
    days = (last - first_day).days
    start, end = _window(sales, first_day, days)
    return slots.free_slots(sales, busy_between(engine, start, end), first_day, days, now)


def next_free(engine: Engine, sales: Sales, after: datetime, now: datetime, count: int = NEXT_FREE) -> list[Slot]:
    """The first few slots offered from the day of `after` on (what a 409 suggests instead)."""
    day = max(sales.calendar.local_date(after), sales.calendar.local_date(now))
    return free(engine, sales, day, sales.consultation.horizon_days, now)[:count]


def current(engine: Engine, lead_id: str) -> dict | None:
    """The lead's booked meeting, if it has one."""
    query = select(bookings).where(bookings.c.lead_id == lead_id, bookings.c.status == BOOKED)
    with engine.connect() as conn:
        found = conn.execute(query).mappings().first()
    return dict(found) if found else None


def latest(engine: Engine, lead_id: str) -> dict | None:
    """The lead's booked meeting, or else its last cancelled one (what the lead page shows)."""
    query = (select(bookings).where(bookings.c.lead_id == lead_id)
             .order_by((bookings.c.status == BOOKED).desc(), bookings.c.created_at.desc()).limit(1))
    with engine.connect() as conn:
        found = conn.execute(query).mappings().first()
    return dict(found) if found else None


def get(engine: Engine, booking_id: str) -> dict | None:
    """One booking, whatever its state."""
    with engine.connect() as conn:
        found = conn.execute(select(bookings).where(bookings.c.id == booking_id)).mappings().first()
    return dict(found) if found else None


# --- booking ----------------------------------------------------------------------

def book_with_lead(engine: Engine, sales: Sales, row: dict, start: datetime, jobs_for, domain: str,
                   now: datetime, alert_after: int = 0) -> Booked:
    """Store a new lead and book it `start`, in one transaction; SlotTaken if it is not offered.

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
            lead = {**row, "owner": host, "status": "consultation", "status_changed_at": now,
                    "stage_reached": STAGES["consultation"], **first_contact(sales, row["received_at"], now)}
            conn.execute(leads.insert(), lead)
            made = _insert(conn, lead["id"], slot, host, now)
            conn.execute(events.insert(), event_row(lead["id"], now, VISITOR, "status", from_status="new",
                                                    to_status="consultation", owner=host,
                                                    note="booked a consultation on the website"))
            # jobs_for has lead.created (with the status consultation); the booking is news of its own.
            conn.execute(outbox.insert(), jobs_for(lead) + _reminder(made, lead, domain, now)
                         + booking_event(sales, BOOKING_CREATED, made, now)
                         + surge.alert_jobs(conn, sales, alert_after, domain, now))
    except IntegrityError as exc:  # the unique index: another process won (the lock makes this rare)
        raise SlotTaken() from exc
    return Booked(lead, made)


def book_requested(engine: Engine, sales: Sales, lead_id: str, start: datetime, actor: str, domain: str,
                   now: datetime) -> Booked:
    """Sales confirm a time for a lead that asked for one: booked as if the visitor had picked it."""
    try:
        with writing(engine) as conn:
            _take_turn(conn)
            lead = _lead(conn, lead_id)
            if _booked(conn, lead_id) is not None:
                raise PipelineError("This lead already has a consultation booked.")
            slot, host = _choose(conn, sales, start, now)
            changes = {"owner": host}
            if RANK[lead["status"]] < RANK["consultation"]:
                changes.update(status="consultation", status_changed_at=now)
            if lead["stage_reached"] < STAGES["consultation"]:
                changes["stage_reached"] = STAGES["consultation"]
            if lead["first_contact_at"] is None:
                changes.update(first_contact(sales, lead["received_at"], now))
            conn.execute(update(leads).where(leads.c.id == lead_id).values(**changes))
            made = _insert(conn, lead_id, slot, host, now)
            row_id = conn.execute(events.insert(), event_row(
                lead_id, now, actor, "status", from_status=lead["status"],
                to_status=changes.get("status", lead["status"]), owner=host,
                note=f"booked the consultation they asked for ({_when(sales, slot.start)})")).inserted_primary_key[0]
            moved_on = status_changed(sales, lead_id, row_id, now) if "status" in changes else []
            lead = {**lead, **changes}
            conn.execute(outbox.insert(), _updates(made, lead, domain, now) + _reminder(made, lead, domain, now)
                         + moved_on + booking_event(sales, BOOKING_CREATED, made, now))
    except IntegrityError as exc:
        raise SlotTaken() from exc
    return Booked(lead, made)


def cancel(engine: Engine, sales: Sales, booking_id: str, actor: str, domain: str, now: datetime) -> dict | None:
    """Cancel a booking (frees the time, tells visitor and host); None if it already was."""
    with writing(engine) as conn:
        _take_turn(conn)
        made = _booking(conn, booking_id)
        if made["status"] != BOOKED:
            return None
        lead = _lead(conn, made["lead_id"])
        return end(conn, sales, made, lead, actor, domain, now,
                   note=f"cancelled the consultation on {_when(sales, made['starts_at'])}")


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
        note: str, tell_visitor: bool = True, lead_goes_on: bool = True) -> dict:
    """The one place a booking ends: the time is freed and everyone who had it is told.

    SEQUENCE goes up and the host (and the visitor, unless `tell_visitor` is off) get a
    CANCEL, so no calendar keeps a meeting that no longer exists; `slots.cancelled` goes
    to the webhooks. A lead in the pipeline whose only consultation this was is back to
    `contacted` (the inbox then shows the consultation as cancelled, not as coming).
    """
    changed = {**made, "status": CANCELLED, "sequence": made["sequence"] + 1, "changed_at": now}
    conn.execute(update(bookings).where(bookings.c.id == made["id"]).values(
        status=CANCELLED, sequence=changed["sequence"], changed_at=now))
    conn.execute(events.insert(), event_row(made["lead_id"], now, actor, "booking", note=note))
    jobs = (_updates(changed, lead if tell_visitor else {**lead, "email": None}, domain, now)
            + booking_event(sales, BOOKING_CANCELLED, changed, now))
    if lead_goes_on:
        jobs += _no_consultation_left(conn, sales, lead, actor, now)
    conn.execute(outbox.insert(), jobs)
    return changed


def _no_consultation_left(conn: Connection, sales: Sales, lead: dict, actor: str, now: datetime) -> list[dict]:
    """A lead at `consultation` without a booked meeting any more is back at `contacted` (its webhook)."""
    if lead["status"] != "consultation" or _booked(conn, lead["id"]) is not None:
        return []
    conn.execute(update(leads).where(leads.c.id == lead["id"]).values(status="contacted", status_changed_at=now))
    row_id = conn.execute(events.insert(), event_row(
        lead["id"], now, actor, "status", from_status="consultation", to_status="contacted",
        note="the consultation was cancelled")).inserted_primary_key[0]
    return status_changed(sales, lead["id"], row_id, now)


def after_release(conn: Connection, sales: Sales, lead: dict, actor: str, domain: str, now: datetime) -> list[dict]:
    """A lead back from the spam tray: the meetings its spam mark cancelled are off for the visitor too.

    The mark told only the host. A real visitor who already had the invitation gets the
    cancellation now (the jobs returned: the caller queues those not written yet, so the host's
    is not sent twice), and a lead at `consultation` with no meeting left is back at `contacted`.
    The time may be booked by someone else meanwhile, so nothing is rebooked: sales book it again
    from the notification, or the visitor does.
    """
    told = conn.execute(select(outbox.c.id).where(
        outbox.c.lead_id == lead["id"], outbox.c.status == "sent",
        func.lower(outbox.c.recipient) == str(lead.get("email") or "").lower())).first() is not None
    ended = conn.execute(select(bookings).where(bookings.c.lead_id == lead["id"], bookings.c.status == CANCELLED,
                                                bookings.c.starts_at > now)).mappings().all()
    jobs = [j for made in ended for j in _updates(dict(made), lead, domain, now)] if told else []
    return jobs + _no_consultation_left(conn, sales, lead, actor, now)


def move(engine: Engine, sales: Sales, booking_id: str, start: datetime, actor: str, domain: str,
         now: datetime) -> dict | None:
    """Move a booking to another offered time in one transaction; None if it is already there.

    The host may change (whoever is free then): the host who loses the meeting gets a
    CANCEL and the one who gains it a REQUEST. The booking keeps its id, so its UID, and
    its SEQUENCE goes up.
    """
    try:
        with writing(engine) as conn:
            _take_turn(conn)
            made = _booking(conn, booking_id)
            if made["status"] != BOOKED:
                raise PipelineError("This consultation was cancelled; please book a new one.")
            if made["starts_at"] == start:
                return None
            # Its own time is not in the way of its new one.
            conn.execute(update(bookings).where(bookings.c.id == booking_id).values(status="moving"))
            slot, host = _choose(conn, sales, start, now)
            changed = {**made, "host": host, "starts_at": slot.start, "ends_at": slot.end,
                       "sequence": made["sequence"] + 1, "changed_at": now}
            conn.execute(update(bookings).where(bookings.c.id == booking_id).values(
                status=BOOKED, host=host, starts_at=slot.start, ends_at=slot.end,
                sequence=changed["sequence"], changed_at=now))
            lead = _lead(conn, made["lead_id"])
            if lead["owner"] != host:
                conn.execute(update(leads).where(leads.c.id == lead["id"]).values(owner=host))
                lead = {**lead, "owner": host}
            conn.execute(events.insert(), event_row(
                made["lead_id"], now, actor, "booking", owner=host,
                note=f"moved the consultation from {_when(sales, made['starts_at'])} to {_when(sales, slot.start)}"))
            jobs = (_updates(changed, lead, domain, now) + _reminder(changed, lead, domain, now)
                    + booking_event(sales, BOOKING_MOVED, changed, now))
            if host != made["host"]:  # the first host's calendar must lose it (no ghost meeting),
                jobs[0]["ref"] += f":{NEW_HOST}"  # and the new host gains it: "booked", not "moved"
                jobs.append(job(lead["id"], BOOKING_UPDATE, made["host"],
                                _message_id(changed, FORMER_HOST, domain), now,
                                ref=f"{made['id']}:{changed['sequence']}:{FORMER_HOST}"))
            conn.execute(outbox.insert(), jobs)
    except IntegrityError as exc:
        raise SlotTaken() from exc
    return changed


def open_booking(conn: Connection, email: str | None, now: datetime) -> dict | None:
    """The booked consultation not over yet of a lead with this address (in any case), if any.

    Addresses are stored as email-validator normalised them (the domain in lower case);
    the database lowers both sides, so it agrees with itself on every letter.
    """
    if not email:
        return None
    query = (select(bookings).join(leads, leads.c.id == bookings.c.lead_id)
             .where(bookings.c.status == BOOKED, bookings.c.ends_at > now,
                    bookings.c.starts_at > now - LONGEST_MEETING, leads.c.spam.is_(False),
                    func.lower(leads.c.email) == func.lower(email))
             .order_by(bookings.c.starts_at).limit(1))
    found = conn.execute(query).mappings().first()
    return dict(found) if found else None


# --- the parts ----------------------------------------------------------------------

def _take_turn(conn: Connection) -> None:
    """Bookings queue one at a time (SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _choose(conn: Connection, sales: Sales, start: datetime, now: datetime) -> tuple[Slot, str]:
    """The slot starting at `start` if offered now, and the host it goes to; SlotTaken if not offered."""
    day = sales.calendar.local_date(start)
    window_start, window_end = _window(sales, day, 1)
    busy = busy_between(conn, window_start, window_end)
    slot = slots.is_offered(sales, busy, start, now)
    if slot is None:
        raise SlotTaken()
    return slot, slots.pick_host(slot, slots.bookings_on(sales, busy, day))


def _window(sales: Sales, first_day: date, days: int) -> tuple[datetime, datetime]:
    """The UTC span to read bookings for those local days, buffers included."""
    tz = sales.calendar.tz
    start = datetime.combine(first_day, datetime.min.time(), tz)
    end = datetime.combine(first_day + timedelta(days=days), datetime.min.time(), tz)
    pad = sales.consultation.buffer + sales.consultation.length
    return start - pad, end + pad


def _insert(conn: Connection, lead_id: str, slot: Slot, host: str, now: datetime) -> dict:
    # A lead's bookings made by sales share one UID (bookingmail.uid): a new one after a cancelled
    # one must carry a higher SEQUENCE than that CANCEL, or calendars ignore it.
    before = conn.execute(select(func.max(bookings.c.sequence)).where(bookings.c.lead_id == lead_id)).scalar()
    made = {"id": secrets.token_urlsafe(16), "lead_id": lead_id, "host": host, "starts_at": slot.start,
            "ends_at": slot.end, "status": BOOKED, "sequence": 0 if before is None else before + 1,
            "created_at": now, "changed_at": None}
    conn.execute(bookings.insert(), made)
    return made


def _lead(conn: Connection, lead_id: str) -> dict:
    # Not in the spam tray, not erased: only such a lead can be booked, moved or cancelled for.
    query = select(leads).where(leads.c.id == lead_id, leads.c.spam.is_(False), leads.c.anonymised_at.is_(None))
    found = conn.execute(query).mappings().first()
    if found is None:
        raise NoSuchLead(f"There is no lead {lead_id}.")
    return dict(found)


def _booking(conn: Connection, booking_id: str) -> dict:
    found = conn.execute(select(bookings).where(bookings.c.id == booking_id)).mappings().first()
    if found is None:
        raise NoSuchLead("There is no such booking.")
    return dict(found)


def _booked(conn: Connection, lead_id: str) -> dict | None:
    found = conn.execute(select(bookings).where(
        and_(bookings.c.lead_id == lead_id, bookings.c.status == BOOKED))).mappings().first()
    return dict(found) if found else None


def _updates(made: dict, lead: dict, domain: str, now: datetime) -> list[dict]:
    """The new or cancelled invitation, to the visitor and to the host."""
    ref = f"{made['id']}:{made['sequence']}"
    found = [job(lead["id"], BOOKING_UPDATE, made["host"], _message_id(made, "host", domain), now, ref=ref)]
    if lead.get("email"):
        found.append(job(lead["id"], BOOKING_UPDATE, lead["email"], _message_id(made, "visitor", domain),
                         now, ref=ref))
    return found


def _reminder(made: dict, lead: dict, domain: str, now: datetime) -> list[dict]:
    """The visitor's reminder a day before; none when the meeting is less than a day away."""
    due = made["starts_at"] - REMIND_BEFORE
    if due <= now or not lead.get("email"):
        return []
    return [job(lead["id"], REMIND_VISITOR, lead["email"], _message_id(made, "remind", domain), now,
                due=due, ref=f"{made['id']}:{made['sequence']}")]


def _message_id(made: dict, what: str, domain: str) -> str:
    return f"<booking.{made['id']}.{made['sequence']}.{what}@{domain}>"


def _when(sales: Sales, moment: datetime) -> str:
    return local_time(moment, sales.calendar.tz)


def still_current(engine: Engine, ref: str | None) -> dict | None:
    """The booking a message's ref names, if that message is still about its latest state.

    A message to the host who lost a moved meeting (`<id>:<sequence>:former-host`) is about
    the meeting as that host had it: a cancelled one, whoever has it now and whatever changed
    since (the worker drops it only if the meeting came back to them); the new host's
    (`…:new-host`) is about a meeting new to them.
    """
    booking_id, _, rest = (ref or "").partition(":")
    sequence, _, role = rest.partition(":")
    made = get(engine, booking_id) if booking_id else None
    if made is not None and role == FORMER_HOST:  # however it changed since, that host lost it
        return {**made, "status": CANCELLED, "former_host": True}
    if made is None or str(made["sequence"]) != sequence:
        return None
    return {**made, "new_host": role == NEW_HOST}
