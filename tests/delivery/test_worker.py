"""Workers as real processes: a crash mid-send, two workers on one queue, the embedded thread."""
from __future__ import annotations

import os
import signal
import time
from datetime import datetime

import pytest
from sqlalchemy import func, select

from capture.db.models import leads, outbox
from capture.delivery.outbox import jobs_for_lead
from capture.schema.forms import load_schema
from capture.core.clock import utcnow
from capture.db.engine import make_engine
from capture.db.migrate import migrate
from capture.delivery.worker import stop_threads
from tests.conftest import ROOT, wall_clock
from tests.smtp_sink import smtp_sink, start_worker, worker_env  # noqa: F401  (fixture)

CONTACT = load_schema(ROOT / "forms.yml").forms["contact"]


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def queue_leads(engine, count: int, now: datetime | None = None) -> list[str]:
    """Store `count` contact leads with their jobs, due at `now`; returns the jobs' Message-IDs.

    For a worker in another process, `now` is `wall_clock()`: its clock is never travelled.
    """
    now = now or utcnow()
    lead_rows, job_rows = [], []
    for i in range(count):
        values = {"name": f"Visitor {i}", "email": f"v{i}@example.com", "message": "Hi", "consent": True}
        lead = {"id": f"lead{i:05d}{os.urandom(6).hex()}", "form_id": "contact", "received_at": now,
                "status": "new", "spam": False, "email": values["email"], "name": values["name"],
                "data": values}
        lead_rows.append(lead)
        job_rows += jobs_for_lead(CONTACT, lead, "fernleaf.example", now)
    with engine.begin() as conn:
        conn.execute(leads.insert(), lead_rows)
        conn.execute(outbox.insert(), job_rows)
    return [j["message_id"] for j in job_rows]


def jobs(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.kind != "retention")  # a chore
                                              .order_by(outbox.c.id)).mappings()]


def unsent(engine) -> int:
    """How many of the leads' jobs are not yet recorded as sent."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.kind != "retention", outbox.c.status != "sent")).scalar_one()


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_started(log_path, name: str, proc) -> None:
    wait_until(lambda: proc.poll() is not None or f"Mail worker {name}" in log_path.read_text(),
               30, f"worker {name} to start")
    assert proc.poll() is None, log_path.read_text()


def stop(proc) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


@pytest.mark.slow
def test_a_worker_killed_holding_a_job_loses_its_lease_and_another_delivers_once(
        database_url, engine, smtp_sink, tmp_path):
    [message_id] = queue_leads(engine, 1, wall_clock())
    env = worker_env(database_url, smtp_sink.url, mail_timeout="1.5s", mail_lease="3s")
    log = tmp_path / "workers.log"
    smtp_sink.handler.stall.set()  # the server hangs after RCPT: the send is in flight
    first = start_worker(env, "first", log)
    wait_until(smtp_sink.handler.stalled.is_set, 30, "the first worker to start sending")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    [held] = jobs(engine)
    assert held["status"] == "sending" and held["leased_by"].startswith("first-")
    smtp_sink.handler.stall.clear()
    second = start_worker(env, "second", log)
    try:
        # Done when the database says so: a job recorded as sent is never sent again (no sleep
        # hoping a second send would have shown by then).
        wait_until(lambda: jobs(engine)[0]["status"] == "sent", 30, "the second worker to deliver")
    finally:
        assert stop(second) == 0
    assert smtp_sink.message_ids() == {message_id: 1}
    [job] = jobs(engine)
    assert job["status"] == "sent" and job["leased_by"].startswith("second-") and job["attempts"] == 2
    assert job["sent_at"] >= held["lease_until"]  # only after the lease ran out


@pytest.mark.slow
def test_two_workers_on_one_queue_of_500_deliver_each_message_once(database_url, engine, smtp_sink, tmp_path):
    # This is about two claims never taking the same job, so neither of the other ways to send twice
    # may happen on a loaded machine: an expired lease (the test above) or a mail server slower than
    # the client's timeout, which stored a message the client then retries (SMTP's own ambiguity).
    # Lease and timeout are long; the batch stays at its largest (60 // (2 * 6) >= 5).
    env = worker_env(database_url, smtp_sink.url, mail_lease="60s", mail_timeout="6s")
    log = tmp_path / "workers.log"
    procs = {name: start_worker(env, name, log) for name in ("alpha", "beta")}
    try:
        for name, proc in procs.items():
            wait_started(log, name, proc)
        expected = queue_leads(engine, 500, wall_clock())  # both are polling when the jobs appear
        # Done when the database says so: every job recorded, so every send has been made.
        wait_until(lambda: unsent(engine) == 0, 120, "500 jobs sent")
    finally:
        codes = [stop(proc) for proc in procs.values()]
    assert codes == [0, 0], log.read_text()[-2000:]
    counts = smtp_sink.message_ids()
    assert set(counts) == set(expected) and set(counts.values()) == {1}, log.read_text()[-2000:]
    stored = jobs(engine)
    assert {j["status"] for j in stored} == {"sent"} and {j["attempts"] for j in stored} == {1}
    shares = {name: sum(j["leased_by"].startswith(f"{name}-") for j in stored) for name in procs}
    assert all(share > 0 for share in shares.values()), shares  # both really took part


def test_the_embedded_worker_is_woken_by_a_new_lead_and_stops_cleanly(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url, embedded_worker="1", worker_poll="30s")
    started = app.extensions["capture_worker"]
    assert len(started) == 2  # CAPTURE_WORKER_THREADS
    try:
        time.sleep(0.2)  # the thread is now asleep for up to 30 s
        posted = time.monotonic()
        app.test_client().post("/api/forms/consultation", json=consultation)
        wait_until(lambda: len(smtp_sink.messages) == 4, 5, "four messages")
        assert time.monotonic() - posted < 2  # woken, not polled
    finally:
        stop_threads(started)
    assert not any(thread.is_alive() for _, thread in started)


def test_no_embedded_worker_unless_asked(app):
    assert "capture_worker" not in app.extensions


def test_a_sigterm_lets_the_worker_finish_and_exit_cleanly(database_url, engine, smtp_sink, tmp_path):
    env = worker_env(database_url, smtp_sink.url)
    log = tmp_path / "worker.log"
    proc = start_worker(env, "solo", log)
    wait_started(log, "solo", proc)
    queue_leads(engine, 20, wall_clock())
    wait_until(lambda: len(smtp_sink.messages) >= 1, 30, "a first message")
    assert stop(proc) == 0
    assert "mail worker solo-1 stopped" in log.read_text() and "Mail worker stopped." in log.read_text()
    assert {j["status"] for j in jobs(engine)} <= {"sent", "pending"}  # none left mid-send


# --- database trouble in the middle of a batch ----------------------------------------------

def build_app(database_url: str, tmp_path, smtp_url: str):
    from capture import create_app
    from tests.conftest import TEST_SECRET
    return create_app({"database_url": database_url, "secret_key": TEST_SECRET, "ratelimit": "",
                       "mail_url": smtp_url, "embedded_worker": "0", "digest": "0"})


def after_first_send(worker, fault) -> list:
    """Make the worker's transport run `fault` once, right after the server accepts the first message."""
    original, done = worker.transport.send, []

    def send(*args):
        original(*args)
        if not done:
            done.append(fault())
    worker.transport.send = send
    return done


@pytest.mark.postgres
def test_terminated_database_connections_mid_batch_lose_no_outcome(pg_url, smtp_sink, tmp_path):
    from sqlalchemy import create_engine, text
    from capture.delivery.worker import Worker
    name = f"capture-test-{os.urandom(4).hex()}"
    app = build_app(f"{pg_url}&application_name={name}", tmp_path, smtp_sink.url)
    engine = app.extensions["capture"].engine
    ids = queue_leads(engine, 4)
    admin = create_engine(pg_url.split("?")[0], isolation_level="AUTOCOMMIT")

    def terminate():
        with admin.connect() as conn:
            return conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE application_name = :name"), {"name": name}).scalar()
    worker = Worker(app.extensions["capture"])
    killed = after_first_send(worker, terminate)
    try:
        assert worker.run_once() == 4
    finally:
        admin.dispose()
        engine.dispose()
    assert killed[0] >= 1  # the fault really happened
    assert [j["status"] for j in jobs(make_engine(pg_url))] == ["sent"] * 4
    assert sorted(m.message["Message-ID"] for m in smtp_sink.messages) == sorted(ids)


def test_untried_jobs_go_back_at_once_when_the_database_fails_mid_batch(database_url, engine, smtp_sink,
                                                                          tmp_path):
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError
    from capture.delivery.worker import Worker
    app = build_app(database_url, tmp_path, smtp_sink.url)
    ids = queue_leads(engine, 3)

    def rename(to: str, back: str):
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {to} RENAME TO {back}"))
    worker = Worker(app.extensions["capture"])
    after_first_send(worker, lambda: rename("leads", "leads_away"))  # every later render fails
    with pytest.raises(SQLAlchemyError):
        worker.run_once()
    before = utcnow()
    states = [(j["status"], j["attempts"], j["leased_by"]) for j in jobs(engine)]
    assert states[0][0] == "sent"
    assert states[1:] == [("pending", 0, None), ("pending", 0, None)]  # not left 'sending' for the lease
    assert all(j["available_at"] <= before for j in jobs(engine)[1:])
    rename("leads_away", "leads")
    assert worker.run_once() == 2
    app.extensions["capture"].engine.dispose()
    assert sorted(m.message["Message-ID"] for m in smtp_sink.messages) == sorted(ids)  # each once
