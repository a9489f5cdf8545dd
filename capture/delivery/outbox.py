"""The outbox: which messages a lead needs, and the queue operations on them.

Jobs are written in the lead's transaction (so a stored lead can never miss
its mail); the worker (worker.py) then claims due jobs with a lease, sends
them and records the outcome here. A job's life:

    pending ──claim──► sending ──sent──► sent
       ▲                  │ failure (temporary): back to pending, later
       └──────────────────┤ lease expired (worker died): claimable again
                          ├ permanent failure, poison, or out of retries ──► dead
                          └ no longer wanted (a confirmation over the address's cap) ──► dropped

Claims are safe with any number of workers: PostgreSQL skips rows another
worker has locked (FOR UPDATE SKIP LOCKED); SQLite runs the claim as one
UPDATE inside a BEGIN IMMEDIATE transaction, which only one writer holds.
A worker claims from one lane: mail (and the chores), webhooks, or both.
Webhooks have their own, so a slow receiver never holds a thread mail needs.
"""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

from sqlalchemy import and_, case, desc, exists, func, literal_column, or_, select, true, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from capture.core.clock import utcnow
from capture.core.settings import DeliverySettings
from capture.schema.forms import Form
from capture.delivery.registry import Kind
from capture.delivery.status import WAITING, JobStatus
from capture.db.models import outbox
from capture.db.engine import writing

STATUSES = tuple(s.value for s in JobStatus)  # plain strings: click treats Enum choices by name
JITTER = 0.2  # each retry waits its scheduled delay ±20%
SYSTEM = "system"
MESSAGES = outbox.c.kind != Kind.RETENTION  # what people mean by "the outbox": mail, not chores
CAP_WINDOW = timedelta(days=1)
MAIL, WEBHOOKS, EVERYTHING = "mail", "webhooks", "everything"  # the lanes a worker claims from
LANES = {MAIL: outbox.c.kind != Kind.WEBHOOK, WEBHOOKS: outbox.c.kind == Kind.WEBHOOK, EVERYTHING: true()}
_first = outbox.alias("earlier")
_doorbells: set[threading.Event] = set()  # one per worker thread of this process


def doorbell() -> threading.Event:
    """A worker's own wake-up event (its own, so no worker can clear another's)."""
    bell = threading.Event()
    _doorbells.add(bell)
    return bell


def forget(bell: threading.Event) -> None:
    """A stopped worker's doorbell is rung no more."""
    _doorbells.discard(bell)


def wake_workers() -> None:
    """Tell this process's workers that jobs were just committed (no polling delay)."""
    for bell in list(_doorbells):
        bell.set()


def message_id(lead_id: str, index: int | str, domain: str) -> str:
    """A Message-ID fixed when the job is written, so a resend is recognisably the same mail."""
    return f"<lead.{lead_id}.{index}@{domain}>"


def jobs_for_lead(form: Form, lead: dict, domain: str, now: datetime) -> list[dict]:
    """One row per sales recipient (the lead's owner among them), then the visitor's confirmation.

    Spam gets none.
    """
    if lead["spam"]:
        return []
    recipients = list(form.recipients(lead["data"]))
    if lead.get("owner") and lead["owner"] not in recipients:
        recipients.append(lead["owner"])  # the owner hears at once, not only from the reminder
    jobs = [job(lead["id"], Kind.NOTIFY_SALES, to, message_id(lead["id"], i, domain), now)
            for i, to in enumerate(recipients)]
    if form.confirmation and lead.get("email"):
        # Only ever the lead's own, validated address: never a relay to anyone else.
        jobs.append(job(lead["id"], Kind.CONFIRM_VISITOR, lead["email"],
                        message_id(lead["id"], "confirm", domain), now))
    return jobs


def ensure_daily(engine: Engine, kind: str, day, domain: str, now: datetime) -> bool:
    """Queue today's run of a daily chore unless it exists: its fixed Message-ID makes it one a day,
    however many workers ask (and a worker that was down runs it once when it is back)."""
    try:
        with writing(engine) as conn:
            conn.execute(outbox.insert(), job(None, kind, SYSTEM, f"<{kind}.{day}@{domain}>", now, ref=str(day)))
        return True
    except IntegrityError:
        return False


def job(lead_id: str | None, kind: str, recipient: str, msg_id: str, now: datetime,
        due: datetime | None = None, ref: str | None = None) -> dict:
    """An outbox row: due now, or at `due` (a scheduled message such as a reminder)."""
    return {"lead_id": lead_id, "ref": ref, "kind": kind, "recipient": recipient,
            "message_id": msg_id, "status": JobStatus.PENDING, "attempts": 0, "available_at": due or now,
            "lease_until": None, "leased_by": None, "last_error": None, "created_at": now,
            "sent_at": None, "scheduled_for": due}


# --- the retry schedule --------------------------------------------------------

def retry_delay(attempts: int, conf: DeliverySettings) -> float:
    """Seconds to wait after the `attempts`-th failed try: doubling from the first, capped."""
    return min(conf.retry_max, conf.retry_first * 2 ** min(attempts - 1, 60))


def out_of_retries(attempts: int, conf: DeliverySettings) -> bool:
    """True once the scheduled waits so far add up to the give-up time (default ~24 h)."""
    return sum(retry_delay(n, conf) for n in range(1, attempts + 1)) >= conf.give_up


def next_try(attempts: int, conf: DeliverySettings, now: datetime) -> datetime:
    """When a job that failed `attempts` times is due again, with jitter."""
    delay = retry_delay(attempts, conf) * random.uniform(1 - JITTER, 1 + JITTER)
    return now + timedelta(seconds=delay)


# --- claiming and outcomes -----------------------------------------------------

def _claimable(now: datetime, due_by: datetime):
    """Pending jobs due by `due_by`, and jobs whose worker's lease ran out (it crashed or hung)."""
    due = or_(and_(outbox.c.status == JobStatus.PENDING, outbox.c.available_at <= due_by),
              and_(outbox.c.status == JobStatus.SENDING, outbox.c.lease_until < now))
    # The visitor's confirmation waits until sales have been told (or their mail gave up).
    sales_first = or_(outbox.c.kind != Kind.CONFIRM_VISITOR, ~exists().where(
        _first.c.lead_id == outbox.c.lead_id, _first.c.kind == Kind.NOTIFY_SALES,
        _first.c.status.in_((JobStatus.PENDING, JobStatus.SENDING))))
    return and_(due, sales_first)


def claim(engine: Engine, worker: str, lease: float, limit: int = 1,
          due_by: datetime | None = None, lane: str = EVERYTHING) -> list[dict]:
    """Lease up to `limit` jobs of `lane` due (by `due_by`, default now) to `worker` until its lease ends."""
    now = utcnow()
    chosen = (select(outbox.c.id).where(_claimable(now, due_by or now), LANES[lane])
              .order_by(outbox.c.available_at, outbox.c.id).limit(limit)
              .with_for_update(skip_locked=True, of=outbox))
    stmt = (update(outbox).where(outbox.c.id.in_(chosen.scalar_subquery()))
            .values(status=JobStatus.SENDING, leased_by=worker, attempts=outbox.c.attempts + 1,
                    lease_until=now + timedelta(seconds=lease))
            .returning(*outbox.c))
    with writing(engine) as conn:
        claimed = [dict(row) for row in conn.execute(stmt).mappings()]
    # RETURNING follows no ORDER BY: sent in the order queued (a lead's webhooks as they happened).
    return sorted(claimed, key=lambda job: (job["available_at"], job["id"]))


def _finish(engine: Engine, job: dict, **values) -> bool:
    """Record an outcome, only if `job` is still leased to the worker that claimed it."""
    stmt = (update(outbox).where(outbox.c.id == job["id"], outbox.c.status == JobStatus.SENDING,
                                 outbox.c.leased_by == job["leased_by"])
            .values(lease_until=None, **values))
    with writing(engine) as conn:
        return conn.execute(stmt).rowcount == 1


def mark_sent(engine: Engine, job: dict) -> bool:
    """The server accepted the message."""
    return _finish(engine, job, status=JobStatus.SENT, sent_at=utcnow(), last_error=None)


def mark_failed(engine: Engine, job: dict, error: str, conf: DeliverySettings) -> str:
    """A temporary failure: due again later, or dead once out of retries. Returns the new status."""
    if out_of_retries(job["attempts"], conf):
        return mark_dead(engine, job, f"gave up after {job['attempts']} attempts: {error}")
    _finish(engine, job, status=JobStatus.PENDING, last_error=error,
            available_at=next_try(job["attempts"], conf, utcnow()))
    return JobStatus.PENDING


def release(engine: Engine, jobs: list[dict]) -> None:
    """Hand back claimed jobs that were not tried (stopping, or the server is down)."""
    for job in jobs:
        _finish(engine, job, status=JobStatus.PENDING, leased_by=None, attempts=job["attempts"] - 1)


def mark_dead(engine: Engine, job: dict, error: str) -> str:
    """Set a job aside for good (an operator can `outbox retry` it)."""
    _finish(engine, job, status=JobStatus.DEAD, last_error=error[:2000])
    return JobStatus.DEAD


def mark_dropped(engine: Engine, job: dict, reason: str) -> str:
    """Decided at send time: this message is no longer wanted (not an error)."""
    _finish(engine, job, status=JobStatus.DROPPED, last_error=reason)
    return JobStatus.DROPPED


def confirmations_to(engine: Engine, job: dict, now: datetime) -> int:
    """Other confirmations sent, or being sent, to this job's address in the last day."""
    query = select(func.count()).where(
        func.lower(outbox.c.recipient) == job["recipient"].lower(), outbox.c.created_at > now - CAP_WINDOW,
        # Inline, so PostgreSQL's prepared (generic) plans still match the partial index.
        outbox.c.kind == literal_column(f"'{Kind.CONFIRM_VISITOR}'"), outbox.c.status.in_((JobStatus.SENT, JobStatus.SENDING)),
        outbox.c.id != job["id"])
    with engine.connect() as conn:
        return conn.execute(query).scalar()


# --- operators -----------------------------------------------------------------

def list_jobs(engine: Engine, status: str | None = None, limit: int = 50) -> list[dict]:
    """The newest jobs, optionally only those in one status ('waiting' = pending or sending)."""
    query = select(outbox).where(MESSAGES).order_by(desc(outbox.c.id)).limit(limit)
    if status == "waiting":
        query = query.where(outbox.c.status.in_(WAITING))
    elif status:
        query = query.where(outbox.c.status == status)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def retry(engine: Engine, job_ids: list[int] | None = None) -> int:
    """Make dead (or waiting) jobs due now with a fresh retry schedule; None = every dead job."""
    query = update(outbox).values(status=JobStatus.PENDING, attempts=0, available_at=utcnow(),
                                  lease_until=None, leased_by=None)
    if job_ids is None:
        query = query.where(outbox.c.status == JobStatus.DEAD)
    else:
        query = query.where(outbox.c.id.in_(job_ids), outbox.c.status.in_((JobStatus.DEAD, JobStatus.PENDING)))
    with writing(engine) as conn:
        return conn.execute(query).rowcount


def oldest_waiting_seconds(engine: Engine) -> float:
    """How long the oldest unsent (pending or sending) message has existed; 0 if none."""
    # A scheduled message (a reminder) waits from when it became due, not from when it was queued.
    queued = func.coalesce(outbox.c.scheduled_for, outbox.c.created_at)
    query = select(func.min(queued)).where(outbox.c.status.in_(WAITING),
                                            queued <= utcnow(), MESSAGES)
    with engine.connect() as conn:
        oldest = conn.execute(query).scalar()
    return max(0.0, round((utcnow() - oldest).total_seconds(), 1)) if oldest else 0.0


def for_lead(engine: Engine, lead_id: str) -> list[dict]:
    """A lead's messages, oldest first: what was sent to whom, and how it went."""
    query = (select(outbox.c.kind, outbox.c.recipient, outbox.c.status, outbox.c.attempts,
                    outbox.c.created_at, outbox.c.sent_at, outbox.c.available_at)
             .where(outbox.c.lead_id == lead_id).order_by(outbox.c.id))
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def counts(engine: Engine) -> dict:
    """How many outbox jobs are in each status; "scheduled": pending and not due yet (a reminder)."""
    state = case((and_(outbox.c.status == JobStatus.PENDING, outbox.c.scheduled_for > utcnow()), "scheduled"),
                 else_=outbox.c.status)
    with engine.connect() as conn:
        rows = conn.execute(select(state, func.count()).where(MESSAGES).group_by(state)).all()
    found = dict.fromkeys((*STATUSES, "scheduled"), 0)
    found.update({status: count for status, count in rows})
    return found
