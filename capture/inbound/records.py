"""What privacy/ removes of inbound mail, for it to call before the leads themselves go.

Received messages and reply addresses refer to their lead (and a message to its event), so
they are deleted first. Erasure and retention of the messages of a lead that stays (issue 22,
point 7) will live here too.
"""
from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.engine import Connection

from capture.db.models import inbound_messages, reply_addresses


def delete_for_leads(conn: Connection, lead_ids: list[str]) -> None:
    """Every received message and reply address of these leads (the leads themselves are going)."""
    conn.execute(delete(inbound_messages).where(inbound_messages.c.lead_id.in_(lead_ids)))
    conn.execute(delete(reply_addresses).where(reply_addresses.c.lead_id.in_(lead_ids)))
