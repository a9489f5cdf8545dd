"""The privacy policy, kept: erasure on request, a copy on request, and retention.

What stays after erasure or anonymisation is what the numbers need and
identifies no one: the form, the dates, the status, the value, the lost reason,
where the lead came from (pages and campaigns), and the answers that are
choices (service, budget, a date). Everything a person typed is removed, and
so are the addresses on the messages about them. Each run leaves a row in
`privacy_log` saying what happened, when and by whom, and never about whom.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from capture.booking import appointments
from capture.core.settings import Retention
from capture.schema.forms import Schema
from capture.schema.validation import kept_answers
from capture.db.models import (
    bookings,
    daily_salts,
    daily_visitors,
    daily_visits,
    events,
    leads,
    outbox,
    page_views,
    privacy_log,
    visits,
)
from capture.db.engine import writing
from capture.pipeline import records
from capture.pipeline.statuses import LeadStatus
from capture.delivery.webhooks import lead_erased
from capture.delivery.registry import Kind, register_chore, register_periodic
from capture.delivery.outbox import ensure_daily
from capture.context import Capture
from capture.delivery import amend
from capture.inbound import records as inbound_records
from capture.delivery.status import FINISHED, WAITING

# body_hash too: a fingerprint of what they wrote would still match their message.
PERSONAL = ("name", "email", "phone", "company", "body_hash")
# Attribution URLs keep scheme, host and path: a query can carry anything (?email=…).
URL_COLUMNS = ("page_url", "referrer", "landing_page", "first_referrer")
ERASED = "erased"  # what an address becomes (the column must hold something)
# What the retention run reports about leads (privacy_log's count); the rest is about messages and visits.
LEAD_COUNTS = ("spam_deleted", "enquiries_anonymised", "clients_anonymised")
# What anonymising a lead reads of it.
ROW = (leads.c.id, leads.c.form_id, leads.c.data, leads.c.name, leads.c.email, leads.c.phone,
       *(leads.c[c] for c in URL_COLUMNS))


def without_query(url: str | None) -> str | None:
    """A URL without its query and fragment (None stays None)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 literal: nothing worth keeping
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _anonymise(conn: Connection, schema: Schema, rows: list, now: datetime, sales=None) -> None:
    """Remove what identifies the people behind these leads, and from the messages about them.

    Every column that can hold them goes: the lead's own, the address on every message to
    them (and the mail server's words about it), the query of the pages they came from. The
    webhooks are told (`lead.erased`, the lead's id only) when `sales` is given.
    """
    for row in rows:
        # A message not sent yet would now say nothing: it is not sent at all. Except a calendar
        # update to a host (their calendar must lose the meeting) and the webhooks, whose sending
        # decides what may still be told (webhooks.AFTER_ERASURE).
        to_host = and_(outbox.c.kind == Kind.BOOKING_UPDATE,
                       func.lower(outbox.c.recipient) != (row.email or "").lower())
        amend.drop_waiting(conn, row.id, "not sent: the lead was erased", waiting=WAITING,
                           spare=or_(outbox.c.kind == Kind.WEBHOOK, to_host))
        conn.execute(update(leads).where(leads.c.id == row.id).values(
            **dict.fromkeys(PERSONAL), data=kept_answers(schema, row.form_id, row.data or {}),
            anonymised_at=now, **{c: without_query(getattr(row, c)) for c in URL_COLUMNS}))
        theirs = outbox.c.kind == Kind.CONFIRM_VISITOR
        if row.email:  # booking updates and reminders too: whatever went to their address
            theirs = or_(theirs, func.lower(outbox.c.recipient) == row.email.lower())
        amend.forget_recipients(conn, and_(outbox.c.lead_id == row.id, theirs), ERASED)
        appointments.forget_reasons(conn, row.id)  # their words when cancelling, kept twice
        records.replace_notes(conn, _reasons_quoted(conn, row.id), REASON_REMOVED)
        erased_news = lead_erased(sales, row.id, now) if sales is not None else []
        if erased_news:
            conn.execute(outbox.insert(), erased_news)


def _reasons_quoted(conn: Connection, lead_id: str) -> list[int]:
    """The timeline notes quoting the visitor's reason for cancelling a meeting."""
    return [e.id for e in conn.execute(select(events.c.id).where(
        events.c.lead_id == lead_id, events.c.kind == "booking",
        events.c.note.contains(appointments.REASON_MARK, autoescape=True)))]


def _log(conn: Connection, action: str, count: int, actor: str, now: datetime) -> None:
    conn.execute(privacy_log.insert(), {"at": now, "actor": actor, "action": action, "leads": count})


# --- on request ----------------------------------------------------------------

def _theirs(email: str):
    return and_(func.lower(leads.c.email) == email.strip().lower(), leads.c.anonymised_at.is_(None))


def erase(engine: Engine, schema: Schema, email: str, actor: str, now: datetime,
          dry_run: bool = False, *, sales, domain: str) -> dict:
    """Erase one person's leads; returns what was (or would be) changed.

    Their meetings still to come are cancelled through the booking module (the host's
    calendar loses them, webhooks hear of it); they themselves are not written to again.
    """
    with writing(engine) as conn:
        rows = conn.execute(select(*ROW).where(_theirs(email))).all()
        ids = [r.id for r in rows]
        found = {"leads": len(rows), "messages": _count(conn, outbox.c.lead_id.in_(ids)),
                 "notes_naming": _notes_naming(conn, rows, email)}
        upcoming = and_(bookings.c.lead_id.in_(ids), bookings.c.status == appointments.BOOKED,
                        bookings.c.starts_at > now)
        found["bookings_cancelled"] = conn.execute(select(func.count()).select_from(bookings).where(upcoming)).scalar()
        if not dry_run and rows:
            # "Erasure removes the enquiry" (privacy policy): staff's notes naming them go too.
            records.replace_notes(conn, found["notes_naming"], NOTE_REMOVED)
            _anonymise(conn, schema, rows, now, sales)
            for lead_id in ids:  # nobody can keep a meeting with someone who asked to be forgotten
                appointments.cancel_upcoming(conn, sales, lead_id, actor, domain, now,
                                             note="cancelled the consultation: the person asked to be erased")
            _log(conn, "erase", len(rows), actor, now)
    return found


def _count(conn: Connection, condition) -> int:
    return conn.execute(select(func.count()).select_from(outbox).where(condition)).scalar()


NOTE_REMOVED = "[note removed at erasure: it named the person]"
REASON_REMOVED = "cancelled the consultation [their reason was removed at erasure]"


def _notes_naming(conn: Connection, rows: list, email: str) -> list[int]:
    """Staff notes on these leads that mention the person by address, name or phone number."""
    names = {email.lower(), *(row.name.lower() for row in rows if row.name)}
    # The number without its country or trunk prefix: +44 20 7946 0018 is 020 7946 0018 in a note.
    names |= {_digits(row.phone)[-9:] for row in rows if len(_digits(row.phone)) >= 6}
    notes = conn.execute(select(events.c.id, events.c.note).where(
        events.c.lead_id.in_([r.id for r in rows]), events.c.note.is_not(None))).all()
    return [n.id for n in notes if any(name in n.note.lower() or name in _digits(n.note) for name in names)]


def _digits(text: str | None) -> str:
    # "0117 496 0000" and "01174960000" are one number in a note.
    return "".join(c for c in text or "" if c.isdigit())


def access(engine: Engine, email: str) -> dict:
    """Everything held about one person: their leads, the events and the messages about them."""
    with engine.connect() as conn:
        found = [dict(r) for r in conn.execute(select(leads).where(_theirs(email))
                                               .order_by(leads.c.received_at)).mappings()]
        for lead in found:
            lead["events"] = [dict(e) for e in conn.execute(
                select(events).where(events.c.lead_id == lead["id"]).order_by(events.c.id)).mappings()]
            lead["bookings"] = [dict(b) for b in conn.execute(
                select(bookings.c.starts_at, bookings.c.ends_at, bookings.c.host, bookings.c.status)
                .where(bookings.c.lead_id == lead["id"]).order_by(bookings.c.created_at)).mappings()]
            lead["messages"] = [dict(m) for m in conn.execute(
                select(outbox.c.kind, outbox.c.recipient, outbox.c.status, outbox.c.created_at, outbox.c.sent_at)
                .where(outbox.c.lead_id == lead["id"]).order_by(outbox.c.id)).mappings()]
    return {"email": email, "leads": found}


# --- retention, once a day -------------------------------------------------------

def apply_retention(engine: Engine, schema: Schema, keep: Retention, now: datetime, sales=None) -> dict:
    """Delete old spam, anonymise old enquiries and old clients, clear old message addresses,
    forget finished days' visitor salts and keys, delete visit counts past their time."""
    done = {}
    with writing(engine) as conn:
        spam = [r.id for r in conn.execute(select(leads.c.id).where(
            leads.c.spam.is_(True), leads.c.received_at < now - keep.spam))]
        if spam:
            appointments.forget(conn, spam)
            amend.delete_for_leads(conn, spam)
            inbound_records.delete_for_leads(conn, spam)
            records.delete_leads(conn, spam)
        done["spam_deleted"] = len(spam)
        last_change = func.coalesce(leads.c.status_changed_at, leads.c.received_at)
        for name, condition in (
                ("enquiries_anonymised",
                 and_(leads.c.status != LeadStatus.WON, last_change < now - keep.enquiries)),
                ("clients_anonymised", and_(leads.c.status == LeadStatus.WON, last_change < now - keep.clients))):
            rows = conn.execute(select(*ROW).where(
                leads.c.spam.is_(False), leads.c.anonymised_at.is_(None), condition)).all()
            _anonymise(conn, schema, rows, now, sales)
            done[name] = len(rows)
        done["messages_cleared"] = amend.forget_recipients(conn, and_(
            outbox.c.status.in_(FINISHED), outbox.c.recipient != ERASED,
            func.coalesce(outbox.c.sent_at, outbox.c.created_at) < now - keep.messages), ERASED)
        done.update(_forget_visits(conn, keep, now))
        _log(conn, "retention", sum(done[k] for k in LEAD_COUNTS), "system", now)
    return done


def _forget_visits(conn: Connection, keep: Retention, now: datetime) -> dict:
    """The backstop for traffic/counts.py: a day's salt and visitor keys are normally deleted by the next
    day's first page view; on a day without one, they go here. Then counts older than kept."""
    salts = conn.execute(delete(daily_salts).where(daily_salts.c.expires_at <= now)).rowcount
    # Keys whose salt is gone match nobody any more; none is kept a moment longer than its salt.
    keys = conn.execute(delete(daily_visitors).where(
        daily_visitors.c.day.not_in(select(daily_salts.c.day)))).rowcount
    # Today's visit of a key (traffic/visits.py) goes with it: the visits rows are then no one's.
    keys += conn.execute(delete(daily_visits).where(
        daily_visits.c.day.not_in(select(daily_salts.c.day)))).rowcount
    oldest = (now - keep.page_views).date()
    counts = conn.execute(delete(page_views).where(page_views.c.day < oldest)).rowcount
    gone = conn.execute(delete(visits).where(visits.c.day < oldest)).rowcount
    return {"visitor_salts_deleted": salts, "visitor_keys_deleted": keys, "page_views_deleted": counts,
            "visits_deleted": gone}


def init_app() -> None:
    """Retention is a daily chore."""
    register_chore(Kind.RETENTION, run_retention)
    register_periodic(Kind.RETENTION, local_day, queue_retention)


def local_day(cap: Capture, now: datetime):
    """Today in the business's time zone: one retention run a day."""
    return now.astimezone(cap.settings.timezone).date()


def queue_retention(cap: Capture, now: datetime) -> None:
    """Queue today's retention run, once for all workers."""
    ensure_daily(cap.engine, Kind.RETENTION, local_day(cap, now), cap.mail_domain, now)


def run_retention(cap: Capture, job: dict, now: datetime) -> str:
    """Today's retention run; a summary of counts for the log."""
    done = apply_retention(cap.engine, cap.schema, cap.settings.retention, now, cap.sales)
    return ", ".join(f"{k} {v}" for k, v in done.items())
