"""The messages a booking change queues: the updated invitation to visitor and host, the reminder.

Each is an outbox job bound to the booking's SEQUENCE (its `ref`), so the
worker drops a message about a time since moved or cancelled
(lookup.still_current).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from capture.booking.lookup import FORMER_HOST, NEW_HOST
from capture.delivery.registry import Kind
from capture.delivery.outbox import job

REMIND_BEFORE = timedelta(hours=24)


def updates(made: dict, lead: dict, domain: str, now: datetime) -> list[dict]:
    """The new or cancelled invitation, to the host and (if the lead has an address) the visitor."""
    ref = f"{made['id']}:{made['sequence']}"
    found = [job(lead["id"], Kind.BOOKING_UPDATE, made["host"], message_id(made, "host", domain), now, ref=ref)]
    if lead.get("email"):
        found.append(job(lead["id"], Kind.BOOKING_UPDATE, lead["email"], message_id(made, "visitor", domain),
                         now, ref=ref))
    return found


def handed_over(changed: dict, former_host: str, lead: dict, domain: str, now: datetime) -> list[dict]:
    """A meeting moved to another host: the new host's REQUEST ("booked", not "moved") and the first's CANCEL.

    `changed` is the booking as moved; the first host's calendar must lose it (no ghost meeting).
    """
    gained, *others = updates(changed, lead, domain, now)
    gained["ref"] += f":{NEW_HOST}"
    lost = job(lead["id"], Kind.BOOKING_UPDATE, former_host, message_id(changed, FORMER_HOST, domain), now,
               ref=f"{changed['id']}:{changed['sequence']}:{FORMER_HOST}")
    return [gained, *others, lost]


def reminder(made: dict, lead: dict, domain: str, now: datetime) -> list[dict]:
    """The visitor's reminder a day before; none when the meeting is less than a day away."""
    due = made["starts_at"] - REMIND_BEFORE
    if due <= now or not lead.get("email"):
        return []
    return [job(lead["id"], Kind.REMIND_VISITOR, lead["email"], message_id(made, "remind", domain), now,
                due=due, ref=f"{made['id']}:{made['sequence']}")]


def message_id(made: dict, what: str, domain: str) -> str:
    """A booking message's Message-ID: one per booking, SEQUENCE and recipient's role."""
    return f"<booking.{made['id']}.{made['sequence']}.{what}@{domain}>"
