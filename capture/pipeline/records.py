"""What the privacy policy removes from the pipeline's own records, for privacy/ to call.

Staff notes that name a person who asked to be erased lose their text (the
event stays, so the timeline still adds up), and spam past its time goes with
its whole history. privacy/ decides what and when; the lead's events and rows
are written only here and in the rest of the pipeline (tests/test_owners.py).
"""
from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.engine import Connection

from capture.db.models import events, leads


def replace_notes(conn: Connection, event_ids: list[int], text: str) -> None:
    """Put `text` in place of these events' notes."""
    if event_ids:
        conn.execute(update(events).where(events.c.id.in_(event_ids)).values(note=text))


def delete_leads(conn: Connection, lead_ids: list[str]) -> None:
    """Delete these leads and their events (whatever else refers to them must be gone first)."""
    conn.execute(delete(events).where(events.c.lead_id.in_(lead_ids)))
    conn.execute(delete(leads).where(leads.c.id.in_(lead_ids)))
