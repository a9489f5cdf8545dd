"""Storing a received message with its event on the lead, in one transaction, once.

Who wrote it decides what it does: a team member's message to the prospect is a contact (the
pipeline stops the clock), the prospect's is their answer, automatic mail and anyone else's are
only recorded. A message is one row per lead it reached, keyed by its Message-ID (or its bytes,
when it has none), so a resend or a second copy is stored once; the row and the event commit
together, and the SMTP server answers 250 only after that commit.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from capture.context import Capture
from capture.db.engine import writing
from capture.db.models import inbound_messages, leads, outbox
from capture.delivery.mail import normalised
from capture.delivery.outbox import wake_workers
from capture.inbound.reading import Read, read
from capture.pipeline import replies
from capture.pipeline.stages import NoSuchLead

TEAM, PROSPECT, AUTOMATIC, OTHER = "team", "prospect", "automatic", "other"
SYSTEM = "system"


@dataclass(frozen=True)
class Sender:
    """Who wrote a message, as far as the lead is concerned."""
    kind: str  # TEAM, PROSPECT, AUTOMATIC or OTHER
    actor: str  # the event's actor: a team member's address, "visitor" or "system"
    contact: bool  # a team member writing to the prospect: the first human contact
    automatic: str | None = None


def receive(cap: Capture, raw: bytes, envelope_from: str, lead_ids: list[str], now: datetime) -> int:
    """Store the message for each lead it reached; how many copies were new (a resend adds none)."""
    found = read(raw, envelope_from)
    return sum(store(cap, lead_id, raw, found, envelope_from, now) for lead_id in dict.fromkeys(lead_ids))


def store(cap: Capture, lead_id: str, raw: bytes, found: Read, envelope_from: str, now: datetime) -> bool:
    """The message and its event on `lead_id`, committed together; False if it was stored before."""
    key = dedupe_key(lead_id, found.message_id, raw)
    try:
        with writing(cap.engine) as conn:
            if conn.execute(select(inbound_messages.c.id).where(inbound_messages.c.dedupe_key == key)).first():
                return False
            lead = conn.execute(select(leads.c.email, leads.c.received_at).where(leads.c.id == lead_id)).first()
            if lead is None:
                return False  # erased between RCPT and DATA: its mail is not kept either
            sender = who_wrote(conn, cap, found, lead.email)
            at = moment(found.sent_at, now, lead.received_at)
            event_id, jobs = _record(conn, cap, lead_id, sender, found, at)
            conn.execute(inbound_messages.insert(), {
                "dedupe_key": key, "lead_id": lead_id, "event_id": event_id, "received_at": now,
                "sent_at": found.sent_at, "message_id": found.message_id or None,
                "envelope_from": envelope_from[:320], "from_addr": found.from_addr[:320] or None,
                "to_addrs": ", ".join(found.recipients) or None, "subject": found.subject or None,
                "sender": sender.kind, "automatic": sender.automatic, "text": found.text or None,
                "size": len(raw), "raw": raw})
    except IntegrityError:
        return False  # the same message, stored a moment ago by another connection
    if jobs:
        wake_workers()
    return True


def _record(conn: Connection, cap: Capture, lead_id: str, sender: Sender, found: Read,
            at: datetime) -> tuple[int | None, list[dict]]:
    """The lead's event (and its first contact); none for a lead held in the spam tray."""
    try:
        return replies.record_mail(conn, cap.sales, lead_id, at=at, actor=sender.actor,
                                   note=summary(sender, found), contact=sender.contact)
    except NoSuchLead:
        return None, []  # kept with the message, without effect: spam is nobody's lead


def who_wrote(conn: Connection, cap: Capture, found: Read, prospect: str | None) -> Sender:
    """Automatic mail first (never a contact, whoever it claims to be from), then the team, the prospect."""
    reason = found.automatic or _ours(conn, cap, found)
    if reason:
        return Sender(AUTOMATIC, SYSTEM, False, reason)
    member = cap.sales.member(found.from_addr) if found.from_addr else None
    prospect = normalised(prospect)
    if member is not None:
        to_prospect = bool(prospect) and prospect in {normalised(a) for a in found.recipients}
        return Sender(TEAM, member.email, to_prospect)
    if prospect and normalised(found.from_addr) == prospect:
        return Sender(PROSPECT, replies.VISITOR, False)
    return Sender(OTHER, SYSTEM, False)


def _ours(conn: Connection, cap: Capture, found: Read) -> str | None:
    """Our own message come back (a loop, or a forward of it): our From, or one of our Message-IDs."""
    if found.from_addr and found.from_addr == cap.settings.mail_from.addr_spec.lower():
        return "our own message"
    if found.message_id and conn.execute(select(outbox.c.id).where(
            outbox.c.message_id == found.message_id[:250])).first():
        return "our own message"
    return None


def moment(sent_at: datetime | None, received: datetime, lead_received: datetime) -> datetime:
    """When the message counts as written: its Date, never after we received it nor before the lead."""
    at = min(sent_at, received) if sent_at is not None else received
    return max(at, lead_received)


def dedupe_key(lead_id: str, message_id: str, raw: bytes) -> str:
    """One key per message and lead: its Message-ID, or for a message without one its bytes."""
    what = message_id.encode("utf-8", "replace") if message_id else hashlib.sha256(raw).digest()
    return hashlib.sha256(lead_id.encode() + b"\0" + what).hexdigest()


def summary(sender: Sender, found: Read) -> str:
    """The event's note: who wrote, the subject and the new text (the whole message is kept too)."""
    head = f"From {found.from_addr or 'an unknown sender'}: {found.subject or '(no subject)'}"
    if sender.kind == AUTOMATIC:
        return f"{head}\nAutomatic mail ({sender.automatic}): not a reply."
    return f"{head}\n\n{found.text}" if found.text else head
