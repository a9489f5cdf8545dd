"""The outbox: which messages a lead needs, written in the lead's transaction.

Delivery (claiming, leases, retries) reads these rows later, so the request
path never waits on a mail server and a stored lead can never miss its mail.
"""
from __future__ import annotations

from datetime import datetime

from .forms import Form

NOTIFY_SALES = "notify_sales"


def message_id(lead_id: str, index: int, domain: str) -> str:
    """A Message-ID fixed when the job is written, so a resend is recognisably the same mail."""
    return f"<lead.{lead_id}.{index}@{domain}>"


def jobs_for_lead(form: Form, lead: dict, domain: str, now: datetime) -> list[dict]:
    """One outbox row per sales recipient; spam gets none."""
    if lead["spam"]:
        return []
    recipients = form.recipients(lead["data"])
    return [_job(lead["id"], NOTIFY_SALES, to, message_id(lead["id"], i, domain), now)
            for i, to in enumerate(recipients)]


def _job(lead_id: str, kind: str, recipient: str, msg_id: str, due: datetime) -> dict:
    return {"lead_id": lead_id, "kind": kind, "recipient": recipient, "message_id": msg_id,
            "status": "pending", "attempts": 0, "available_at": due, "lease_until": None,
            "leased_by": None, "last_error": None, "created_at": due, "sent_at": None}
