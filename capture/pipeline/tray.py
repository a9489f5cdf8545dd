"""The spam tray's two decisions: "Not spam" releases a held lead, "Spam" holds a delivered one.

A released lead is treated as if it had just arrived clean: it gets an owner,
the messages it missed are sent (each once: a message's fixed Message-ID says
whether it exists already), and its reminders count from the release. Its
speed to lead still counts from when it was received (pipeline.response_times),
and the desk says it was held. Holding a lead drops what it has not sent yet,
so a release can send it after all. Webhooks follow the same rule: a lead
that arrived as spam sends `lead.created` when it is released (once, like its
mail), and a held lead's waiting webhooks are dropped.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from capture.booking.appointments import after_release, cancel_upcoming
from capture.core.clock import utcnow
from capture.db.models import events, leads
from capture.db.engine import writing
from capture.delivery.leads import HELD_REASON
from capture.delivery.outbox import wake_workers
from capture.pipeline.arrival import Arrival
from capture.pipeline.stages import PipelineError, event_row, locked
from capture.delivery import amend

HELD = f"not sent: {HELD_REASON}"  # last_error of a message a "Spam" decision held back (delivery/leads.py too)
RELEASED, MARKED = "released", "spam"  # event kinds


def release(capture, lead_id: str, actor: str, now: datetime | None = None) -> dict | None:
    """Take a lead out of the spam tray into the pipeline; None when it is not in the tray."""
    now = now or utcnow()
    with writing(capture.engine) as conn:
        lead = _locked(conn, lead_id)
        if not lead["spam"]:
            return None
        form = capture.schema.forms.get(lead["form_id"])
        if form is None:
            raise PipelineError(f"Form {lead['form_id']!r} is no longer in forms.yml.")
        arrival = Arrival(form, capture.sales, capture.mail_domain, now)
        changes = {"spam": False, "released_at": now, **arrival.assigned(conn, lead["data"], lead["owner"])}
        conn.execute(update(leads).where(leads.c.id == lead_id).values(**changes))
        row = {**lead, **changes}
        wanted = arrival.jobs(row) + after_release(conn, capture.sales, row, actor, capture.mail_domain, now)
        amend.queue_again(conn, lead_id, wanted, HELD)
        event = event_row(lead_id, now, actor, RELEASED, owner=changes["owner"],
                          note="not spam: released from the spam tray")
        conn.execute(events.insert(), event)
    wake_workers()
    return event


def hold(capture, lead_id: str, actor: str, now: datetime | None = None) -> dict | None:
    """Move a delivered lead to the spam tray, out of the pipeline and the KPIs; None if it is there."""
    now = now or utcnow()
    with writing(capture.engine) as conn:
        lead = _locked(conn, lead_id)
        if lead["spam"]:
            return None
        amend.drop_waiting(conn, lead_id, HELD)
        # A bot's booking holds no host's time: cancelled through the booking module, so the host's
        # calendar and the webhooks hear of it (a release does not restore it: the visitor rebooks).
        cancel_upcoming(conn, capture.sales, lead_id, actor, capture.mail_domain, now,
                        note="cancelled the consultation: the lead was marked as spam")
        conn.execute(update(leads).where(leads.c.id == lead_id).values(spam=True))
        event = event_row(lead_id, now, actor, MARKED, note="marked as spam: moved to the spam tray")
        conn.execute(events.insert(), event)
    return event


def _locked(conn, lead_id: str) -> dict:
    return locked(conn, select(leads).where(leads.c.id == lead_id), lead_id)
