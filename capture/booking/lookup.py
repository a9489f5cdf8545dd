"""Reading bookings: which meetings are booked, the free slots around them, one lead's meeting.

Nothing here writes; appointments.py asks `busy_between` inside its write
transaction so the answer cannot go stale before its insert.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from capture.booking import slots
from capture.booking.slots import Busy, Slot
from capture.core.formatting import local_time
from capture.db.models import bookings, leads
from capture.pipeline.stages import NoSuchLead
from capture.schema.sales import Sales

BOOKED, CANCELLED = "booked", "cancelled"
# A moved meeting that changed hands: the ref of the CANCEL to its first host and of the new host's REQUEST.
FORMER_HOST, NEW_HOST = "former-host", "new-host"
BOOKING_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # secrets.token_urlsafe(16), as appointments makes them
NEXT_FREE = 5  # how many other times a 409 offers
LONGEST_MEETING = timedelta(days=1)  # bounds the search for a meeting not over yet to the starts_at index


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
    start, end = window(sales, first_day, days)
    return slots.free_slots(sales, busy_between(engine, start, end), first_day, days, now)


def next_free(engine: Engine, sales: Sales, after: datetime, now: datetime, count: int = NEXT_FREE) -> list[Slot]:
    """The first few slots offered from the day of `after` on (what a 409 suggests instead)."""
    day = max(sales.calendar.local_date(after), sales.calendar.local_date(now))
    return free(engine, sales, day, sales.consultation.horizon_days, now)[:count]


def window(sales: Sales, first_day: date, days: int) -> tuple[datetime, datetime]:
    """The UTC span to read bookings for those local days, buffers included."""
    tz = sales.calendar.tz
    start = datetime.combine(first_day, datetime.min.time(), tz)
    end = datetime.combine(first_day + timedelta(days=days), datetime.min.time(), tz)
    pad = sales.consultation.buffer + sales.consultation.length
    return start - pad, end + pad


def current(engine: Engine, lead_id: str) -> dict | None:
    """The lead's booked meeting, if it has one."""
    with engine.connect() as conn:
        return booked(conn, lead_id)


def booked(conn: Connection, lead_id: str) -> dict | None:
    """The lead's booked meeting, if it has one, read in the caller's transaction."""
    query = select(bookings).where(bookings.c.lead_id == lead_id, bookings.c.status == BOOKED)
    found = conn.execute(query).mappings().first()
    return dict(found) if found else None


def booked_after(conn: Connection, lead_id: str, moment: datetime) -> bool:
    """Whether the lead has a meeting booked to start after `moment` (read in the caller's transaction)."""
    query = select(bookings.c.id).where(bookings.c.lead_id == lead_id, bookings.c.status == BOOKED,
                                        bookings.c.starts_at > moment)
    return conn.execute(query.limit(1)).first() is not None


def latest(engine: Engine, lead_id: str) -> dict | None:
    """The lead's booked meeting, or else its last cancelled one (what the lead page shows)."""
    query = (select(bookings).where(bookings.c.lead_id == lead_id)
             .order_by((bookings.c.status == BOOKED).desc(), bookings.c.created_at.desc()).limit(1))
    with engine.connect() as conn:
        found = conn.execute(query).mappings().first()
    return dict(found) if found else None


def get(engine: Engine, booking_id: str) -> dict | None:
    """One booking, whatever its state; None also for anything that cannot be a booking id (a form's value)."""
    if not BOOKING_ID.fullmatch(booking_id or ""):
        return None
    with engine.connect() as conn:
        found = conn.execute(select(bookings).where(bookings.c.id == booking_id)).mappings().first()
    return dict(found) if found else None


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


def writable_lead(conn: Connection, lead_id: str) -> dict:
    """The lead a booking change is for, inside the writer's transaction.

    Not in the spam tray, not erased: only such a lead can be booked, moved or cancelled for.
    """
    query = select(leads).where(leads.c.id == lead_id, leads.c.spam.is_(False), leads.c.anonymised_at.is_(None))
    found = conn.execute(query).mappings().first()
    if found is None:
        raise NoSuchLead(f"There is no lead {lead_id}.")
    return dict(found)


def booking_row(conn: Connection, booking_id: str) -> dict:
    """One booking by id, inside the writer's transaction; NoSuchLead when there is none."""
    found = conn.execute(select(bookings).where(bookings.c.id == booking_id)).mappings().first()
    if found is None:
        raise NoSuchLead("There is no such booking.")
    return dict(found)


def business_time(sales: Sales, moment: datetime) -> str:
    """A meeting's start as the team's timeline notes give it, in the studio's zone."""
    return local_time(moment, sales.calendar.tz)
