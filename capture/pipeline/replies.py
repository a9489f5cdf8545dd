"""What a message received by mail does to its lead (inbound/ calls this in its own transaction).

Every message becomes a `mail` event on the lead's timeline. A team member's message to the
prospect is the lead's first human contact if none came before it: it moves a new lead to
contacted as that person, through the same change as the desk's "Mark as contacted"
(stages.change_in), so the clock stops the same way and the reminder and escalation, which
are decided when due, are no longer wanted.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from capture.db.models import events, leads
from capture.pipeline import stages
from capture.pipeline.statuses import LeadStatus
from capture.schema.sales import Sales

MAIL = "mail"  # the event kind
VISITOR = "visitor"  # the actor of a message from the prospect


def record_mail(conn: Connection, sales: Sales, lead_id: str, *, at: datetime, actor: str, note: str,
                contact: bool) -> tuple[int, list[dict]]:
    """The message's event (its id) and, when it is the first contact, the move to contacted.

    Returns the webhook jobs the move queued (wake the workers once committed).
    NoSuchLead for a lead that is gone or held in the spam tray.
    """
    lead = stages.locked(conn, select(leads.c.status).where(leads.c.id == lead_id, leads.c.spam.is_(False)),
                         lead_id)
    event = stages.event_row(lead_id, at, actor, MAIL, note=note[:stages.NOTE_MAX] or None)
    event_id = conn.execute(events.insert(), event).inserted_primary_key[0]
    if not (contact and lead["status"] == LeadStatus.NEW):
        return event_id, []
    _, jobs = stages.change_in(conn, sales, lead_id, stages.Change(LeadStatus.CONTACTED), actor, at)
    return event_id, jobs
