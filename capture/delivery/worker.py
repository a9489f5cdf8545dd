"""The delivery worker: claim a due job, build its message, send it, record the outcome.

A message is an email (mail.py, transport.py) or a webhook (webhooks.py): same queue,
same leases, retries and dead letters, but claimed in separate lanes: the threads
that send mail never take a webhook, and webhooks have a thread of their own, so a
slow receiver can delay only other webhooks, never a notification or a sign-in link.

One class, two ways to run it:
- embedded: `start_embedded(capture)` runs it in daemon threads of the web process,
  woken the moment a lead is stored in that process (`outbox.wake_workers`);
- standalone: `flask --app capture worker` runs it in the foreground.
Any number may run at once against one database; leases keep each job with one
worker at a time. Logs name job and lead ids only, never addresses or content.
"""
from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket
import sys
import threading
import time
from datetime import date, datetime

from sqlalchemy.exc import SQLAlchemyError

from capture.booking import appointments
from capture.booking import messages
from capture.reports import digest
from capture.delivery import mail
from capture.delivery import outbox
from capture.pipeline import stages
from capture.privacy import erasure
from capture.pipeline import tray
from capture.desk import signin
from capture.db import store
from capture.booking import surge
from capture.core import tokens
from capture.core import urls
from capture.delivery import webhooks
from capture.context import Capture
from capture.core.clock import utcnow
from capture.core.settings import ConfigError
from capture.core.paths import TEMPLATES
from capture.delivery.transport import SendError, make_transport


log = logging.getLogger(__name__)
MAX_IDLE_BACKOFF = 10.0  # seconds between tries while the database is unreachable
MAX_BATCH = 5  # jobs claimed in one transaction (fewer write transactions under load)
# A database call of the worker's is tried again after these pauses (seconds): a
# terminated or restarted server costs one failed call, and a sent message is
# recorded as sent before its lease can hand it to another worker.
DB_RETRY_PAUSES = (0.0, 0.05, 0.25, 1.0)


class Unrecorded(Exception):
    """A job was tried but its outcome could not be written; its lease brings it back."""


class Unwanted(Exception):
    """Decided when due: this message is no longer needed (a reminder for a contacted lead)."""


def batch_size(conf) -> int:
    """How many jobs one claim may take: each must still be sent well within the lease."""
    return max(1, min(MAX_BATCH, int(conf.lease // (2 * conf.smtp_timeout))))


class Worker:
    """Delivers outbox jobs for one app's settings, database and schema."""

    def __init__(self, capture: Capture, name: str | None = None, lane: str = outbox.EVERYTHING):
        self.capture = capture
        self.lane = lane  # which jobs it claims (outbox.LANES)
        self.conf = capture.settings.delivery
        self.env = mail.environment(TEMPLATES / "email")
        self.transport = make_transport(capture.settings.mail, self.conf.smtp_timeout)
        # ConfigError if an endpoint's secret is missing: this is where webhooks are signed.
        self.webhooks = webhooks.Sender(capture)
        self.sender = capture.settings.mail_from.addr_spec
        self.name = name or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stopping = threading.Event()
        self.bell = outbox.doorbell()
        self.unreachable = False  # the last send could not even connect
        self.chores_day = None  # the day this worker last made sure the daily chores are queued
        self.digest_week = None  # the week whose digest this worker last made sure is queued
        self.batch = batch_size(self.conf)

    # --- loops -----------------------------------------------------------------

    def run(self) -> None:
        """Deliver until stop(): right away when woken, else every CAPTURE_WORKER_POLL."""
        log.info("mail worker %s started", self.name)
        pause = self.conf.poll
        while not self.stopping.is_set():
            try:
                self.run_once()
                pause = self.conf.poll
            except SQLAlchemyError as exc:
                pause = min(MAX_IDLE_BACKOFF, max(pause * 2, 1.0))
                log.warning("mail worker: database unavailable (%s); trying again in %.0fs",
                            type(exc).__name__, pause)
            except Exception:  # never let the thread die quietly
                pause = min(MAX_IDLE_BACKOFF, max(pause * 2, 1.0))
                log.exception("mail worker: unexpected error; carrying on in %.0fs", pause)
            self.bell.wait(pause)
            self.bell.clear()
        outbox.forget(self.bell)
        self.transport.close()
        log.info("mail worker %s stopped", self.name)

    def run_once(self) -> int:
        """Deliver every job due when called, in small claimed batches; returns how many."""
        handled, started = 0, utcnow()
        self.unreachable = False
        self.schedule_chores(started)
        try:
            while not self.stopping.is_set():
                # Only jobs due when the pass began: a quick retry waits for the next pass.
                jobs = outbox.claim(self.capture.engine, self.name, self.conf.lease,
                                    limit=self.batch, due_by=started, lane=self.lane)
                if not jobs:
                    break
                handled += self.deliver_batch(jobs)
                if self.unreachable:
                    break  # the server is down: probe again next pass, not once per job
        finally:
            self.transport.close()  # hang up once the queue is empty
        return handled

    def stop(self) -> None:
        """Finish the job in hand, then leave the loop."""
        self.stopping.set()
        self.bell.set()

    def deliver_batch(self, jobs: list[dict]) -> int:
        """Deliver claimed jobs in turn; those not tried go back at once, due again now.

        Not tried: the worker is stopping, the mail server cannot be reached, or
        the database failed before a job was sent. Waiting out their lease
        instead would delay every one of them by minutes.
        """
        for i, job in enumerate(jobs):
            if self.stopping.is_set() or self.unreachable:
                self.hand_back(jobs[i:])
                return i
            try:
                self.deliver(job)
            except Unrecorded as exc:
                self.hand_back(jobs[i + 1:])
                raise exc.__cause__ from None
            except SQLAlchemyError:
                self.hand_back(jobs[i:])
                raise
        return sum(job["kind"] != outbox.RETENTION for job in jobs)  # messages, not chores

    def hand_back(self, jobs: list[dict]) -> None:
        """Release untried jobs; if the database refuses even that, their lease brings them back."""
        if not jobs:
            return
        try:
            self.retrying(outbox.release, self.capture.engine, jobs)
        except SQLAlchemyError as exc:
            log.warning("mail worker: %d claimed job(s) wait for their lease (%s)", len(jobs),
                        type(exc).__name__)

    def retrying(self, call, *args):
        """`call(*args)`, tried again on a database error after each of DB_RETRY_PAUSES."""
        for pause in DB_RETRY_PAUSES[:-1]:
            time.sleep(pause)
            try:
                return call(*args)
            except SQLAlchemyError:
                if self.stopping.is_set():
                    raise
        time.sleep(DB_RETRY_PAUSES[-1])
        return call(*args)

    # --- one job ---------------------------------------------------------------

    def schedule_chores(self, now) -> None:
        """Once a day per worker: make sure today's retention run is queued (one for all workers)."""
        day = now.astimezone(self.capture.settings.timezone).date()
        if self.chores_day != day:
            outbox.ensure_daily(self.capture.engine, outbox.RETENTION, day, self.capture.mail_domain, now)
            self.chores_day = day
        week = digest.last_week(now, self.capture.settings.timezone)
        if (self.capture.settings.digest and self.digest_week != week
                and digest.due(now, self.capture.settings.timezone)):
            digest.ensure_weekly(self.capture.engine, self.capture.sales, self.capture.mail_domain, now,
                                 self.capture.settings.timezone)
            self.digest_week = week

    def housekeeping(self, job: dict) -> str:
        """Today's retention run (erasure.py); logs counts only."""
        cap = self.capture
        try:
            done = erasure.apply_retention(cap.engine, cap.schema, cap.settings.retention, utcnow(), cap.sales)
        except SQLAlchemyError:
            raise  # the database, not the job: handed back, tried again
        except Exception as exc:  # a bug must not stop the mail behind it
            log.error("retention run %s failed (%s); set aside as dead", job["ref"], type(exc).__name__)
            return self.record(outbox.mark_dead, job, f"retention failed: {type(exc).__name__}: {exc}")
        log.info("retention run %s: %s", job["ref"], ", ".join(f"{k} {v}" for k, v in done.items()))
        self.record(outbox.mark_sent, job)
        return "sent"

    def deliver(self, job: dict) -> str:
        """Send one claimed job and record what happened; returns its new status.

        A database error before the send propagates as is (the job was not
        tried); one while recording the outcome as Unrecorded.
        """
        if job["kind"] == outbox.RETENTION:
            return self.housekeeping(job)
        where = f"job {job['id']} ({job['kind']}, lead {job['lead_id']})"
        if self.over_cap(job):
            log.info("%s not sent: the address's daily confirmation cap is reached", where)
            return self.record(outbox.mark_dropped, job,
                               f"not sent: {self.conf.confirmations_per_day} confirmations to this "
                               f"address in the last day")
        try:
            msg = self.retrying(self.render, job)
        except SQLAlchemyError:
            raise  # the database, not the job
        except (Unwanted, webhooks.Unwanted) as exc:
            log.info("%s not sent: %s", where, exc)
            return self.record(outbox.mark_dropped, job, f"not sent: {exc}")
        except Exception as exc:  # a poison job: set aside, the queue moves on
            log.error("%s cannot be rendered (%s); set aside as dead", where, type(exc).__name__)
            return self.record(outbox.mark_dead, job, f"poison: cannot render: {type(exc).__name__}: {exc}")
        try:
            self.send(job, msg)
        except SendError as exc:
            self.unreachable = exc.unreachable
            error = f"{exc} {exc.detail}".strip()
            if exc.permanent:
                log.warning("%s refused permanently (%s); dead", where, exc)
                return self.record(outbox.mark_dead, job, f"permanent: {error}")
            status = self.record(outbox.mark_failed, job, error, self.conf)
            log.warning("%s attempt %d failed (%s); now %s", where, job["attempts"], exc, status)
            return status
        except Exception as exc:  # e.g. a message the transport cannot encode
            log.error("%s cannot be sent (%s); set aside as dead", where, type(exc).__name__)
            return self.record(outbox.mark_dead, job, f"poison: cannot send: {type(exc).__name__}: {exc}")
        if not self.record(outbox.mark_sent, job):
            log.warning("%s was sent after its lease ran out; another worker may send it again", where)
        else:
            log.info("%s sent (attempt %d)", where, job["attempts"])
        return "sent"

    def send(self, job: dict, msg) -> None:
        """Hand a built message to the mail server, or post a built webhook; SendError if refused."""
        if job["kind"] == webhooks.WEBHOOK:
            self.webhooks.send(msg)
        else:
            self.transport.send(msg, self.sender, mail.ascii_address(job["recipient"]))

    def record(self, mark, job: dict, *args):
        """Write a tried job's outcome at once, retrying; Unrecorded if the database will not."""
        try:
            return self.retrying(mark, self.capture.engine, job, *args)
        except SQLAlchemyError as exc:
            raise Unrecorded() from exc

    def over_cap(self, job: dict) -> bool:
        """A visitor's confirmation beyond the daily cap for its address (nobody mail-bombs with our name)."""
        if job["kind"] != mail.CONFIRM_VISITOR:
            return False
        sent = self.retrying(outbox.confirmations_to, self.capture.engine, job, utcnow())
        return sent >= self.conf.confirmations_per_day

    def render(self, job: dict):
        """The message for a job, built from its lead as stored now; Unwanted if no longer needed."""
        cap = self.capture
        if job["kind"] == mail.SIGN_IN:
            return self.render_sign_in(job)
        if job["kind"] == mail.DIGEST:
            return self.render_digest(job)
        if job["kind"] == mail.BOOKING_SURGE:
            return self.render_surge(job)
        lead = store.get_lead(cap.engine, job["lead_id"])
        if lead is None:
            raise mail.RenderError("the lead no longer exists")
        if lead["spam"] and not self.ends_a_booking(job, lead):  # moved to the spam tray after this was queued
            raise Unwanted(tray.HELD_REASON)
        if job["kind"] == webhooks.WEBHOOK:
            return self.webhooks.render(job, lead)
        if job["kind"] in mail.FOLLOW_UPS and lead["status"] != "new":
            raise Unwanted(f"the lead was {lead['status']} before this was due")
        form = cap.schema.forms.get(lead["form_id"])
        if form is None:
            raise mail.RenderError(f"form {lead['form_id']!r} is no longer in the schema")
        count, last = store.history(cap.engine, lead)
        links = (tokens.action_links(cap.settings.secret_key, cap.settings.public_url, lead["id"],
                                     job["recipient"]) if job["kind"] in mail.TO_SALES else [])
        extra = (stages.followup_context(cap.sales, lead, utcnow())
                 if job["kind"] in mail.FOLLOW_UPS else {})
        booking = self.booking_for(job, lead)
        if links and booking is None and self.bookable(lead):
            token = tokens.action_token(cap.settings.secret_key, lead["id"], tokens.BOOK_REQUESTED, job["recipient"])
            links.insert(1, {"label": "Book the time they asked for",
                             "url": urls.external(cap.settings.public_url, f"/actions/{token}")})
        if booking is not None:
            extra["booking"] = messages.context(booking, lead, sales=cap.sales, settings=cap.settings,
                                                   domain=cap.mail_domain, recipient=job["recipient"],
                                                   now=utcnow())
        return mail.compose(self.env, job, lead, form, history=mail.History(count, last),
                            mail_from=cap.settings.mail_from, tz=cap.settings.timezone,
                            domain=cap.mail_domain, links=links, extra=extra)

    def ends_a_booking(self, job: dict, lead: dict) -> bool:
        """A cancelled meeting's news to its host or a webhook: sent even for a lead in the spam tray."""
        if job["kind"] == webhooks.WEBHOOK:  # lead.erased too: the CRM heard of it before the tray
            return webhooks.parse_id(job["ref"])[0] in webhooks.AFTER_ERASURE
        if job["kind"] != mail.BOOKING_UPDATE or job["recipient"].lower() == str(lead["email"] or "").lower():
            return False
        made = appointments.still_current(self.capture.engine, job["ref"])
        return made is not None and made["status"] == appointments.CANCELLED

    def bookable(self, lead: dict) -> bool:
        """A request for a consultation time that sales can book from the email (not a booking yet)."""
        form = self.capture.schema.forms.get(lead["form_id"])
        return bool(self.capture.sales.consultation and form and form.booking
                    and mail.requested_slot(lead["data"] or {}, self.capture.settings.timezone))

    def booking_for(self, job: dict, lead: dict) -> dict | None:
        """The booking a message is about; Unwanted for one about a time since moved or cancelled."""
        engine = self.capture.engine
        if job["kind"] in mail.BOOKING_KINDS:
            booking = appointments.still_current(engine, job["ref"])
            if booking is None or (job["kind"] == mail.REMIND_VISITOR and booking["status"] != "booked"):
                raise Unwanted("the booking changed before this was due")
            if booking.get("former_host") and booking["host"].lower() == job["recipient"].lower():
                raise Unwanted("the meeting came back to this host")
            if job["kind"] == mail.REMIND_VISITOR and booking["starts_at"] <= utcnow():
                # An outage or mail retries can carry a reminder past the meeting: decided at send time.
                raise Unwanted("the meeting had started before the reminder could go")
            return booking
        if job["kind"] in (mail.CONFIRM_VISITOR, mail.NOTIFY_SALES) and self.capture.sales.consultation:
            return appointments.current(engine, lead["id"])
        return None

    def render_digest(self, job: dict):
        """The weekly digest, with the numbers as they are now, for a reader still on the team."""
        cap = self.capture
        member = cap.sales.member(job["recipient"])
        if member is None or member not in digest.readers(cap.sales):
            raise Unwanted("the address no longer reads the digest (sales.yml)")
        week = digest.Week(date.fromisoformat(job["ref"]))
        ctx = digest.context(cap.engine, cap.sales, cap.settings.timezone, week,
                             urls.external(cap.settings.public_url, "/desk/report"), utcnow())
        return mail.compose_digest(self.env, job, {**ctx, "name": member.name}, mail_from=cap.settings.mail_from)

    def render_surge(self, job: dict):
        """The managers' alert about bookings at an unusual rate, with the bookings as stored now."""
        cap = self.capture
        member = cap.sales.member(job["recipient"])
        if member is None or surge.READER not in member.roles:
            raise Unwanted("the address is no longer a manager (sales.yml)")
        ctx = surge.context(cap.engine, cap.sales, cap.settings.timezone, datetime.fromisoformat(job["ref"]),
                            cap.settings.booking_alert, urls.external(cap.settings.public_url, "/desk/"), utcnow())
        return mail.compose_notice(self.env, job, mail.BOOKING_SURGE, {**ctx, "name": member.name},
                                   mail_from=cap.settings.mail_from)

    def render_sign_in(self, job: dict):
        """A desk sign-in email: the link row must exist and still be unused."""
        cap = self.capture
        link = signin.get_link(cap.engine, job["ref"] or "")
        if link is None or link["used_at"] is not None or link["expires_at"] <= utcnow():
            raise Unwanted("the sign-in link was used or has expired")
        member = cap.sales.member(link["email"])
        if member is None:
            raise Unwanted("the address is no longer on the team")
        url = urls.external(cap.settings.public_url,
                            f"/desk/sign-in/{tokens.sign_in_token(cap.settings.secret_key, link['id'])}")
        return mail.compose_sign_in(self.env, job, url=url, name=member.name,
                                    mail_from=cap.settings.mail_from)


# --- embedded in the web process --------------------------------------------------

def start_threads(capture: Capture, count: int, name: str | None = None) -> list[tuple[Worker, threading.Thread]]:
    """Run `count` mail workers in daemon threads (one sends while another waits on the server),
    and one webhook worker when sales.yml lists endpoints: a slow receiver never holds mail."""
    if capture.sales.webhooks:
        lanes = [outbox.MAIL] * count + [outbox.WEBHOOKS]
    else:  # nothing to post: webhooks left by an endpoint since removed are only dropped
        lanes = [outbox.EVERYTHING] * count
    started = []
    for i, lane in enumerate(lanes, start=1):
        label = "webhooks" if lane == outbox.WEBHOOKS else str(i)
        worker = Worker(capture, name=f"{name}-{label}" if name and len(lanes) > 1 else name, lane=lane)
        thread = threading.Thread(target=worker.run, name=f"capture-worker-{label}", daemon=True)
        thread.start()
        started.append((worker, thread))
    return started


def start_embedded(capture: Capture) -> list[tuple[Worker, threading.Thread]]:
    """The web process's workers (CAPTURE_WORKER_THREADS, and one for webhooks); they stop when it exits.

    A missing webhook secret stops the start like any bad setting: one line, exit code 4.
    """
    try:
        started = start_threads(capture, capture.settings.delivery.threads)
    except ConfigError as exc:  # raised by the first Worker, before any thread started
        print(f"capture: {exc}", file=sys.stderr)
        raise SystemExit(4) from None
    atexit.register(stop_threads, started)
    return started


def stop_threads(started: list[tuple[Worker, threading.Thread]], timeout: float = 10.0) -> None:
    """Ask each worker to finish its job and stop, and wait (the lease covers a straggler)."""
    for worker, _thread in started:
        worker.stop()
    deadline = time.monotonic() + timeout
    for _worker, thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
