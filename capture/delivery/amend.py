"""Changing jobs already queued, for the capabilities that decide it: held back (the spam tray,
erasure), sent again (a release from the tray), readdressed (a new owner), forgotten (privacy).

Only delivery writes the outbox beyond queueing a job: every change to a job's status,
recipient or error text is one of these, in the caller's transaction.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, delete, select, true, update
from sqlalchemy.engine import Connection

from capture.db.models import outbox
from capture.delivery.registry import Kind
from capture.delivery.status import JobStatus


def drop_waiting(conn: Connection, lead_id: str, reason: str, *, waiting=(JobStatus.PENDING,),
                 spare: ColumnElement | None = None) -> None:
    """The lead's jobs still `waiting` are not sent, for `reason` (their last_error); `spare` keeps some."""
    kept = ~spare if spare is not None else true()
    conn.execute(update(outbox).where(outbox.c.lead_id == lead_id, outbox.c.status.in_(waiting), kept)
                 .values(status=JobStatus.DROPPED, last_error=reason))


def queue_again(conn: Connection, lead_id: str, wanted: list[dict], held: str) -> None:
    """Insert the `wanted` jobs not written yet, and send again those dropped as `held`."""
    existing = {row.message_id: row.status == JobStatus.DROPPED and row.last_error == held
                for row in conn.execute(select(outbox.c.message_id, outbox.c.status, outbox.c.last_error)
                                        .where(outbox.c.lead_id == lead_id))}
    new = [job for job in wanted if job["message_id"] not in existing]
    if new:
        conn.execute(outbox.insert(), new)
    for job in wanted:
        if existing.get(job["message_id"]):
            conn.execute(update(outbox).where(outbox.c.message_id == job["message_id"]).values(
                status=JobStatus.PENDING, last_error=None, recipient=job["recipient"],
                available_at=job["available_at"], scheduled_for=job["scheduled_for"]))


def readdress_reminder(conn: Connection, lead_id: str, owner: str) -> None:
    """The owner's reminder not yet sent goes to whoever owns the lead now."""
    conn.execute(update(outbox).where(outbox.c.lead_id == lead_id, outbox.c.kind == Kind.REMIND_OWNER,
                                      outbox.c.status == JobStatus.PENDING).values(recipient=owner))


def forget_recipients(conn: Connection, which: ColumnElement, placeholder: str) -> int:
    """The address and the mail server's words on the jobs `which` picks give way to `placeholder`."""
    return conn.execute(update(outbox).where(which).values(recipient=placeholder, last_error=None)).rowcount


def delete_for_leads(conn: Connection, lead_ids: list[str]) -> None:
    """Every job about these leads, whatever its state (the leads themselves are going)."""
    conn.execute(delete(outbox).where(outbox.c.lead_id.in_(lead_ids)))

