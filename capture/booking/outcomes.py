"""How a meeting went: the host records it held or a no-show (the after-meeting email, the desk).

Part of the booking package's ownership of `bookings` (tests/test_owners.py): the outcome
columns are written here only, and what it does to the lead is the pipeline's
(pipeline/consultations.met_or_missed), in the same transaction.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine

from capture.booking.lookup import BOOKED, booked_after, booking_row, business_time, writable_lead
from capture.db.engine import writing
from capture.db.models import bookings, outbox
from capture.delivery.webhooks import booking_no_show
from capture.pipeline import consultations
from capture.pipeline.consultations import HELD, NO_SHOW
from capture.pipeline.stages import PipelineError
from capture.schema.sales import Sales

__all__ = ["HELD", "NO_SHOW", "NotYet", "record_outcome"]


class NotYet(PipelineError):
    """How a meeting went is known only once it has started (or it was cancelled): a 409."""


def record_outcome(engine: Engine, sales: Sales, booking_id: str, outcome: str, actor: str,
                   now: datetime) -> dict | None:
    """Record that a meeting was held or a no-show (the host's email link, the desk); None if already so.

    The last one recorded wins (a host who clicked the wrong link records again); the lead's
    timeline keeps both, and its status follows (pipeline/consultations.py: a no-show sends a
    lead at `consultation` back to `contacted`).
    """
    if outcome not in consultations.OUTCOME_NOTES:
        raise PipelineError(f"Unknown outcome {outcome!r}: held or no_show.")
    with writing(engine) as conn:
        made = booking_row(conn, booking_id)
        if made["status"] != BOOKED:
            raise NotYet("This consultation was cancelled, so there is nothing to record.")
        if made["starts_at"] > now:
            raise NotYet(f"This consultation has not started yet ({business_time(sales, made['starts_at'])}): "
                         "record how it went afterwards.")
        if made["outcome"] == outcome:
            return None
        lead = writable_lead(conn, made["lead_id"])
        conn.execute(update(bookings).where(bookings.c.id == booking_id).values(
            outcome=outcome, outcome_at=now, outcome_by=actor))
        row_id, jobs = consultations.met_or_missed(
            conn, sales, lead, outcome, actor, now, another_booked=booked_after(conn, lead["id"], now),
            note=f"{consultations.OUTCOME_NOTES[outcome]} ({business_time(sales, made['starts_at'])})")
        if outcome == NO_SHOW:
            jobs += booking_no_show(sales, made, row_id, now)
        if jobs:
            conn.execute(outbox.insert(), jobs)
    return {**made, "outcome": outcome, "outcome_at": now, "outcome_by": actor}
