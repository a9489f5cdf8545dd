"""After a meeting: the host is asked how it went, and answers with one click (held or no-show).

Once a booked meeting has ended, its host gets one email, "How did your call with Jane Doe
go?", with two links: "It was held" and "They did not show". The worker's periodic schedule
looks every PERIOD for meetings that ended in the last CATCH_UP with no outcome recorded, and
queues the question (Kind.AFTER_MEETING) for each. Its Message-ID is fixed by the booking
(`<booking.<id>.after@…>`), so a meeting is asked about once however many workers look, and a
worker that was down catches up once. The message decides when it is sent: none for a meeting
cancelled since, one whose outcome the desk has recorded, or a lead in the spam tray.

The links are signed here (bound to the booking, the outcome and the host's address, valid
LIFETIME) and open outcome_pages.py: GET shows the meeting and one button, only its POST
records (outcomes.record_outcome).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from capture.booking import appointments
from capture.booking.lookup import BOOKED, LONGEST_MEETING
from capture.core import urls
from capture.core.formatting import wall_time
from capture.core.tokens import ClockSigner, TokenError
from capture.db.engine import writing
from capture.db.models import bookings, leads, outbox
from capture.delivery import mail
from capture.delivery.leads import lead_for
from capture.delivery.outbox import job
from capture.delivery.registry import Kind, Rendering, Unwanted, register, register_periodic
from capture.pipeline.consultations import HELD, NO_SHOW

PERIOD = timedelta(minutes=5)  # how soon after its end a meeting is asked about, at most
CATCH_UP = timedelta(days=7)  # older meetings are not asked about (a first deploy, a long outage)
SALT = "capture.meeting-outcome"  # in every link mailed: never renamed with a module
LIFETIME = timedelta(days=30)
PAGES = "/actions/outcome"  # outcome_pages.py
LABELS = {HELD: "It was held", NO_SHOW: "They did not show"}  # in the email's order


@dataclass(frozen=True)
class OutcomeLink:
    booking_id: str
    outcome: str
    recipient: str


def init_app() -> None:
    """The question is a message kind, queued by a periodic look for meetings just ended."""
    register(Kind.AFTER_MEETING, render)
    register_periodic(Kind.AFTER_MEETING, period, schedule)


def period(cap, now: datetime) -> int:
    """The PERIOD `now` falls in: each worker looks for ended meetings once in each."""
    return int(now.timestamp() // PERIOD.total_seconds())


def schedule(cap, now: datetime) -> None:
    """Queue the question for the meetings just ended (once for all workers)."""
    queue(cap.engine, cap.mail_domain, now)


def queue(engine: Engine, domain: str, now: datetime) -> int:
    """Queue the question about every meeting ended in the last CATCH_UP with no outcome and none queued; how many."""
    # A lead in the spam tray is asked about once released (if still within CATCH_UP); an erased one never.
    ended = (select(bookings.c.id, bookings.c.lead_id, bookings.c.host)
             .join(leads, leads.c.id == bookings.c.lead_id)
             .where(bookings.c.status == BOOKED, bookings.c.outcome.is_(None), bookings.c.ends_at <= now,
                    bookings.c.ends_at > now - CATCH_UP, bookings.c.starts_at > now - CATCH_UP - LONGEST_MEETING,
                    leads.c.spam.is_(False), leads.c.anonymised_at.is_(None)))
    with engine.connect() as conn:
        rows = [job(lead_id, Kind.AFTER_MEETING, host, message_id(booking_id, domain), now, ref=booking_id)
                for booking_id, lead_id, host in conn.execute(ended)]
        queued = set(conn.execute(select(outbox.c.message_id).where(
            outbox.c.message_id.in_([row["message_id"] for row in rows]))).scalars()) if rows else set()
    rows = [row for row in rows if row["message_id"] not in queued]
    if not rows:
        return 0
    try:
        with writing(engine) as conn:
            conn.execute(outbox.insert(), rows)
    except IntegrityError:  # another worker queued some first: the rest wait for the next period
        return 0
    return len(rows)


def message_id(booking_id: str, domain: str) -> str:
    """One question per booking, whatever happens to it."""
    return f"<booking.{booking_id}.after@{domain}>"


# --- the links ---------------------------------------------------------------------

def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT, signer=ClockSigner)


def outcome_token(secret: str, booking_id: str, outcome: str, recipient: str) -> str:
    """The token of one answer about one meeting, for the host the email goes to."""
    if outcome not in LABELS:
        raise ValueError(f"unknown outcome {outcome!r}")
    return _serializer(secret).dumps([booking_id, outcome, recipient.lower()])


def read_outcome(secret: str, token: str) -> OutcomeLink:
    """What an outcome token records; TokenError for a tampered, expired or malformed one."""
    try:
        payload = _serializer(secret).loads(token, max_age=int(LIFETIME.total_seconds()))
    except SignatureExpired:
        raise TokenError("This link has expired (links in our emails work for 30 days). "
                         "Record how the meeting went in the desk.", 410) from None
    except BadSignature:
        raise TokenError("This link is not one of ours (it may have been cut short or changed).", 404) from None
    if (not isinstance(payload, list) or len(payload) != 3 or not all(isinstance(p, str) for p in payload)
            or payload[1] not in LABELS):
        raise TokenError("This link is not one of ours.", 404)
    return OutcomeLink(*payload)


def links(secret: str, base_url: str, booking_id: str, recipient: str) -> list[dict]:
    """The email's two links, held first."""
    return [{"outcome": outcome, "label": label,
             "url": urls.external(base_url, f"{PAGES}/{outcome_token(secret, booking_id, outcome, recipient)}")}
            for outcome, label in LABELS.items()]


# --- the message -------------------------------------------------------------------

def render(r: Rendering, job: dict):
    """The host's question about the meeting in `job["ref"]`; Unwanted once nobody needs to answer."""
    cap = r.capture
    lead = lead_for(cap, job)
    if lead["anonymised_at"] is not None:
        raise Unwanted("the person was erased")
    made = appointments.get(cap.engine, job["ref"])
    if made is None or made["status"] != BOOKED:
        raise Unwanted("the meeting was cancelled")
    if made["outcome"] is not None:
        raise Unwanted("how the meeting went is recorded already")
    if made["host"].lower() != job["recipient"].lower():
        raise Unwanted("the meeting has another host now")
    member = cap.sales.member(job["recipient"])
    tz = cap.settings.timezone
    ctx = {"name": member.name if member else "", "lead": lead, "visitor": lead["name"] or lead["email"] or "them",
           "when": wall_time(made["starts_at"], made["ends_at"], tz),
           "links": links(cap.settings.secret_key, cap.settings.public_url, made["id"], job["recipient"]),
           "desk_url": urls.external(cap.settings.public_url, f"/desk/leads/{lead['id']}")}
    return mail.assemble(r.env, job, Kind.AFTER_MEETING, ctx, mail_from=cap.settings.mail_from)

