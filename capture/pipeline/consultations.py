"""What a consultation does to its lead, for the booking package to call in its own transaction.

A booking made, moved to another host or called off, and how a meeting went
(held or a no-show), change the lead's status and owner and add to its
timeline. Those columns and the events are the pipeline's, so the booking
package asks here instead of writing them (tests/test_owners.py keeps it so);
what the booking itself is stays in capture/booking/.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Connection

from capture.db.models import events, leads
from capture.delivery.webhooks import status_changed
from capture.pipeline.stages import event_row, first_contact
from capture.pipeline.statuses import RANK, STAGES, LeadStatus
from capture.schema.sales import Sales

CONSULTATION, CONTACTED = LeadStatus.CONSULTATION, LeadStatus.CONTACTED


def record(conn: Connection, lead_id: str, now: datetime, actor: str, kind: str, **values) -> int:
    """Add an event to a lead's timeline; its id."""
    row = event_row(lead_id, now, actor, kind, **values)
    return conn.execute(events.insert(), row).inserted_primary_key[0]


def arrived_booked(conn: Connection, sales: Sales, row: dict, host: str, actor: str, now: datetime) -> dict:
    """Store a new lead that booked with its form: the host owns it, at `consultation`, answered now."""
    lead = {**row, "owner": host, "status": CONSULTATION, "status_changed_at": now,
            "stage_reached": STAGES[CONSULTATION], **first_contact(sales, row["received_at"], now)}
    conn.execute(leads.insert(), lead)
    record(conn, lead["id"], now, actor, "status", from_status=LeadStatus.NEW, to_status=CONSULTATION,
           owner=host, note="booked a consultation on the website")
    return lead


def booked_for(conn: Connection, sales: Sales, lead: dict, host: str, actor: str, note: str,
               now: datetime) -> tuple[dict, list[dict]]:
    """Sales booked the lead a consultation: the lead as it is now, and the webhooks its move calls for.

    The host owns it; it moves up to `consultation` (never back from further on),
    and its first contact is now if it had none.
    """
    changes = {"owner": host}
    if RANK[lead["status"]] < RANK[CONSULTATION]:
        changes.update(status=CONSULTATION, status_changed_at=now)
    if lead["stage_reached"] < STAGES[CONSULTATION]:
        changes["stage_reached"] = STAGES[CONSULTATION]
    if lead["first_contact_at"] is None:
        changes.update(first_contact(sales, lead["received_at"], now))
    conn.execute(update(leads).where(leads.c.id == lead["id"]).values(**changes))
    row_id = record(conn, lead["id"], now, actor, "status", from_status=lead["status"],
                    to_status=changes.get("status", lead["status"]), owner=host, note=note)
    moved_on = status_changed(sales, lead["id"], row_id, now) if "status" in changes else []
    return {**lead, **changes}, moved_on


def called_off(conn: Connection, sales: Sales, lead: dict, actor: str, now: datetime) -> list[dict]:
    """A lead at `consultation` whose meeting is off is back at `contacted`; the webhooks that wants.

    The caller knows no other meeting is booked; a lead anywhere else stays where it is.
    """
    if lead["status"] != CONSULTATION:
        return []
    conn.execute(update(leads).where(leads.c.id == lead["id"]).values(status=CONTACTED, status_changed_at=now))
    row_id = record(conn, lead["id"], now, actor, "status", from_status=CONSULTATION, to_status=CONTACTED,
                    note="the consultation was cancelled")
    return status_changed(sales, lead["id"], row_id, now)


def rehosted(conn: Connection, lead: dict, host: str) -> dict:
    """A meeting moved to another host: that host owns the lead now. The lead as it is now."""
    if lead["owner"] == host:
        return lead
    conn.execute(update(leads).where(leads.c.id == lead["id"]).values(owner=host))
    return {**lead, "owner": host}


HELD, NO_SHOW = "held", "no_show"  # bookings.outcome, and the timeline event's kind
OUTCOME_NOTES = {HELD: "the consultation was held", NO_SHOW: "they did not come to the consultation"}


def met_or_missed(conn: Connection, sales: Sales, lead: dict, outcome: str, actor: str, now: datetime,
                  note: str, another_booked: bool) -> tuple[int, list[dict]]:
    """How a meeting went, on the lead's timeline and in its status: the event row's id, and the
    webhooks a status change wants.

    Always an event (kind `held` or `no_show`), so a changed mind shows both. A no-show is not a
    consultation held: a lead at `consultation` goes back to `contacted` (as a cancelled meeting
    does), so the inbox and reminders treat it as needing follow-up, unless another meeting is
    booked. A meeting held brings a lead below `consultation` (a no-show recorded first) back to it.
    Leads further on (proposal, won, lost) keep their status.
    """
    row_id = record(conn, lead["id"], now, actor, outcome, note=note)
    if outcome == NO_SHOW and lead["status"] == CONSULTATION and not another_booked:
        return row_id, _moved(conn, sales, lead, CONTACTED, actor, now, "no-show: back to follow-up")
    if outcome == HELD and RANK[lead["status"]] < RANK[CONSULTATION]:
        return row_id, _moved(conn, sales, lead, CONSULTATION, actor, now, "the consultation was held")
    return row_id, []


def _moved(conn: Connection, sales: Sales, lead: dict, to: str, actor: str, now: datetime,
           note: str) -> list[dict]:
    changes = {"status": to, "status_changed_at": now}
    if lead["stage_reached"] < STAGES[to]:
        changes["stage_reached"] = STAGES[to]
    conn.execute(update(leads).where(leads.c.id == lead["id"]).values(**changes))
    row_id = record(conn, lead["id"], now, actor, "status", from_status=lead["status"], to_status=to, note=note)
    return status_changed(sales, lead["id"], row_id, now)
