"""The queue: jobs per lead, leases, the retry schedule, outages, dead and poison jobs, the CLI."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select, update

from capture.delivery import outbox
from capture.core.settings import DeliverySettings, load_settings
from capture.schema.forms import load_schema
from capture.db.models import leads, outbox as outbox_table
from capture.core.clock import utcnow
from capture.delivery.worker import Worker
from tests.conftest import ROOT, TEST_SECRET
from tests.smtp_sink import SmtpSink, smtp_sink  # noqa: F401  (fixture)

FAST = {"mail_retry_first": "0.05s", "mail_retry_max": "0.2s", "mail_timeout": "1s", "mail_lease": "2s"}


def rows(app, scheduled: bool = False) -> list[dict]:
    """The outbox, oldest first; the reminders and escalations each lead also queues (due hours
    later, pipeline.followups) only when asked for: these tests are about mail that goes now."""
    query = select(outbox_table).where(outbox_table.c.kind != "retention").order_by(outbox_table.c.id)
    if not scheduled:
        query = query.where(outbox_table.c.scheduled_for.is_(None))
    with app.extensions["capture"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def drain(worker: Worker, until, timeout: float = 15) -> None:
    """Run the worker like its loop does until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the queue did not drain in time"
        worker.run_once()
        time.sleep(0.02)


# --- jobs per lead ---------------------------------------------------------------------

def lead(form_id: str, spam=False, **values) -> dict:
    return {"id": "L" * 20, "form_id": form_id, "spam": spam, "email": values.get("email"), "data": values}


@pytest.mark.parametrize("form_id, spam, kinds", [
    ("consultation", False, ["notify_sales", "confirm_visitor"]),
    ("consultation", True, []),
    ("contact", False, ["notify_sales"]),
])
def test_jobs_for_a_lead(form_id, spam, kinds):
    form = load_schema(ROOT / "forms.yml").forms[form_id]
    jobs = outbox.jobs_for_lead(form, lead(form_id, spam, email="ada@example.com", service="starter"),
                                "fernleaf.example", utcnow())
    assert [j["kind"] for j in jobs] == kinds
    if "confirm_visitor" in kinds:
        assert jobs[-1]["recipient"] == "ada@example.com"
        assert jobs[-1]["message_id"] == f"<lead.{'L' * 20}.confirm@fernleaf.example>"


# --- the schedule --------------------------------------------------------------------------

def test_default_schedule_starts_within_seconds_and_gives_up_after_about_a_day():
    conf = load_settings({"secret_key": TEST_SECRET}).delivery
    assert outbox.retry_delay(1, conf) == 5 and outbox.retry_delay(2, conf) == 10
    assert outbox.retry_delay(30, conf) == 4 * 3600
    last = next(n for n in range(1, 100) if outbox.out_of_retries(n, conf))
    total = sum(outbox.retry_delay(n, conf) for n in range(1, last))
    assert 20 * 3600 <= total < 24 * 3600 <= total + outbox.retry_delay(last, conf)
    now = utcnow()
    waits = [(outbox.next_try(1, conf, now) - now).total_seconds() for _ in range(200)]
    assert 4 <= min(waits) < max(waits) <= 6 and len(set(waits)) > 100  # jittered


def test_schedule_is_configurable():
    conf = DeliverySettings(retry_first=1, retry_max=8, give_up=20)
    assert [outbox.retry_delay(n, conf) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert not outbox.out_of_retries(4, conf) and outbox.out_of_retries(5, conf)


@pytest.mark.parametrize("name, value", [("mail_retry_first", "soon"), ("mail_lease", "0"),
                                         ("mail_timeout", "-1"), ("worker_poll", "1 week"),
                                         ("mail_give_up", "")])
def test_bad_delivery_settings_name_the_variable(name, value):
    from capture.core.setting_checks import ConfigError
    with pytest.raises(ConfigError, match=f"^CAPTURE_{name.upper()}: "):
        load_settings({"secret_key": TEST_SECRET, name: value})


def test_a_lease_shorter_than_two_timeouts_is_refused():
    from capture.core.setting_checks import ConfigError
    with pytest.raises(ConfigError, match="^CAPTURE_MAIL_LEASE: .*twice CAPTURE_MAIL_TIMEOUT"):
        load_settings({"secret_key": TEST_SECRET, "mail_timeout": "30s", "mail_lease": "45s"})


# --- leases ---------------------------------------------------------------------------------

def test_a_leased_job_is_not_claimed_twice_until_its_lease_expires(app, client, consultation):
    client.post("/api/forms/contact", json={"name": "A", "email": "a@example.com", "message": "m",
                                            "consent": True})
    engine = app.extensions["capture"].engine
    job, owners = outbox.claim(engine, "w1", lease=60, limit=5)  # hello@, and the lead's owner
    assert job["status"] == "sending" and job["attempts"] == 1 and job["leased_by"] == "w1"
    assert outbox.claim(engine, "w2", lease=60) == []
    with engine.begin() as conn:  # w1 is gone and its lease ran out
        conn.execute(update(outbox_table).values(lease_until=utcnow() - timedelta(seconds=1)))
    again, _ = outbox.claim(engine, "w2", lease=60, limit=5)
    assert again["id"] == job["id"] and again["attempts"] == 2 and again["leased_by"] == "w2"
    assert outbox.mark_sent(engine, job) is False  # w1 woke up late: its outcome is not recorded
    assert outbox.mark_sent(engine, again) is True
    assert rows(app)[0]["status"] == "sent"


# --- outages, refusals, poison ----------------------------------------------------------------

def test_server_down_then_back_delivers_every_message_exactly_once(make_app, consultation):
    sink = SmtpSink()  # not started: nothing listens on its port yet
    app = make_app(mail_url=sink.url, **FAST)
    client = app.test_client()
    for i in range(8):
        client.post("/api/forms/consultation", json={**consultation, "email": f"v{i}@example.com"})
    worker = Worker(app.extensions["capture"])
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        worker.run_once()
        time.sleep(0.02)
    waiting = rows(app)
    assert all(j["status"] == "pending" for j in waiting)
    tried = [j for j in waiting if j["attempts"]]
    assert tried and all(j["last_error"].startswith("cannot connect") for j in tried)
    # While the server is unreachable each pass probes it once, not once per message.
    assert sum(j["attempts"] for j in waiting) < 40
    health = client.get("/api/health").json["outbox"]
    assert health["waiting"] == len(waiting) == 8 * 4 and health["sent"] == 0  # 3 to sales, 1 to the visitor
    sink.start()
    try:
        drain(worker, lambda: all(j["status"] == "sent" for j in rows(app)))
    finally:
        sink.stop()
    counts = sink.message_ids()
    assert set(counts) == {j["message_id"] for j in rows(app)}
    assert set(counts.values()) == {1}


def test_a_permanent_refusal_is_dead_at_once_and_the_others_still_go(make_app, smtp_sink, consultation):
    smtp_sink.handler.refuse["shops@fernleaf.example"] = "550 5.1.1 No such mailbox"
    app = make_app(mail_url=smtp_sink.url, **FAST)
    app.test_client().post("/api/forms/consultation", json=consultation)
    Worker(app.extensions["capture"]).run_once()
    by_recipient = {j["recipient"]: j for j in rows(app)}
    refused = by_recipient["shops@fernleaf.example"]
    assert refused["status"] == "dead" and refused["attempts"] == 1
    assert refused["last_error"].startswith("permanent: recipient refused: 550")
    assert by_recipient["sales@fernleaf.example"]["status"] == "sent"
    assert by_recipient["ada@analytical.example.com"]["status"] == "sent"


def test_a_temporary_refusal_is_retried_and_the_confirmation_waits_for_sales(make_app, smtp_sink, consultation):
    smtp_sink.handler.refuse["shops@fernleaf.example"] = "451 4.3.0 Try again later"
    app = make_app(mail_url=smtp_sink.url, **FAST)
    app.test_client().post("/api/forms/consultation", json=consultation)
    worker = Worker(app.extensions["capture"])
    worker.run_once()
    by_recipient = {j["recipient"]: j for j in rows(app)}
    assert by_recipient["shops@fernleaf.example"]["status"] == "pending"
    assert by_recipient["ada@analytical.example.com"]["status"] == "pending"  # sales first
    assert by_recipient["ada@analytical.example.com"]["attempts"] == 0
    del smtp_sink.handler.refuse["shops@fernleaf.example"]
    drain(worker, lambda: all(j["status"] == "sent" for j in rows(app)))
    order = [r.recipients[0] for r in smtp_sink.messages]
    assert order[-1] == "ada@analytical.example.com" and sorted(smtp_sink.message_ids().values()) == [1, 1, 1, 1]


def test_a_poison_job_is_set_aside_without_holding_up_the_others(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url, **FAST)
    client = app.test_client()
    first = client.post("/api/forms/contact", json={"name": "A", "email": "a@example.com", "message": "m",
                                                    "consent": True}).json["id"]
    client.post("/api/forms/contact", json={"name": "B", "email": "b@example.com", "message": "m",
                                            "consent": True})
    with app.extensions["capture"].engine.begin() as conn:  # the form was since removed from forms.yml
        conn.execute(update(leads).where(leads.c.id == first).values(form_id="retired"))
    Worker(app.extensions["capture"]).run_once()
    poison = [j for j in rows(app) if j["lead_id"] == first]
    good = [j for j in rows(app) if j["lead_id"] != first]
    assert all(j["status"] == "dead" and j["attempts"] == 1 and "poison" in j["last_error"] for j in poison)
    assert [j["status"] for j in good] == ["sent", "sent"] and len(smtp_sink.messages) == 2


def test_out_of_retries_is_dead_then_the_cli_and_health_show_and_retry_it(make_app, consultation):
    sink = SmtpSink()  # never started
    app = make_app(mail_url=sink.url, mail_retry_first="0.01s", mail_retry_max="0.02s",
                   mail_give_up="0.05s", mail_timeout="1s", mail_lease="2s")
    client = app.test_client()
    client.post("/api/forms/contact", json={"name": "A", "email": "a@example.com", "message": "m",
                                            "consent": True})
    drain(Worker(app.extensions["capture"]), lambda: all(j["status"] == "dead" for j in rows(app)))
    job, _owners = rows(app)
    assert job["last_error"].startswith(f"gave up after {job['attempts']} attempts")
    health = client.get("/api/health")
    assert health.json["outbox"]["dead"] == 2 and health.json["outbox"]["attention"] is True
    spec = client.get("/api/openapi.json").json
    Draft202012Validator({**spec["components"]["schemas"]["Health"],
                          "components": spec["components"]}).validate(health.json)

    runner = app.test_cli_runner()
    listed = runner.invoke(args=["outbox", "list", "--status", "dead"])
    assert listed.exit_code == 0 and f"{job['id']:>6}  dead" in listed.output
    assert "last error: gave up" in listed.output
    assert runner.invoke(args=["outbox", "list", "--status", "sent"]).output.strip() == "No messages."
    assert runner.invoke(args=["outbox", "retry-dead"]).output.strip() == "2 dead message(s) will be sent again now."
    assert {(j["status"], j["attempts"]) for j in rows(app)} == {("pending", 0)}
    assert client.get("/api/health").json["outbox"]["attention"] is False
    missing = runner.invoke(args=["outbox", "retry", "999"])
    assert missing.exit_code != 0 and "no dead or pending message with id 999" in missing.output
    retried = runner.invoke(args=["outbox", "retry", str(job["id"])])
    assert retried.exit_code == 0 and f"Message {job['id']} will be sent again now." in retried.output


def test_worker_once_from_the_command_line(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    app.test_client().post("/api/forms/consultation", json=consultation)
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "4 message(s)" in result.output
    assert len(smtp_sink.messages) == 4


def test_a_long_waiting_message_raises_the_health_flag(app, client):
    client.post("/api/forms/contact", json={"name": "A", "email": "a@example.com", "message": "m",
                                            "consent": True})
    assert client.get("/api/health").json["outbox"]["attention"] is False
    with app.extensions["capture"].engine.begin() as conn:  # queued 10 minutes ago, retrying since
        conn.execute(update(outbox_table).values(created_at=utcnow() - timedelta(minutes=10),
                                                 available_at=utcnow() + timedelta(minutes=5)))
    body = client.get("/api/health").json["outbox"]
    assert body["attention"] is True and 590 < body["oldest_waiting_seconds"] < 700


def test_claimed_jobs_not_tried_are_handed_back(app, client, consultation):
    client.post("/api/forms/consultation", json=consultation)
    engine = app.extensions["capture"].engine
    claimed = outbox.claim(engine, "w1", lease=60, limit=5)
    assert [j["kind"] for j in claimed] == ["notify_sales"] * 3  # two inboxes, the owner; the confirmation waits
    outbox.release(engine, claimed)
    assert {(j["status"], j["attempts"], j["leased_by"]) for j in rows(app)} == {("pending", 0, None)}


def test_logs_name_ids_never_personal_data(make_app, smtp_sink, consultation, caplog):
    smtp_sink.handler.refuse["shops@fernleaf.example"] = "550 5.1.1 <shops@fernleaf.example> unknown"
    smtp_sink.handler.refuse["sales@fernleaf.example"] = "451 4.7.1 <sales@fernleaf.example> later"
    app = make_app(mail_url=smtp_sink.url, **FAST)
    caplog.set_level("DEBUG", logger="capture")
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    Worker(app.extensions["capture"]).run_once()
    text = caplog.text
    assert lead_id in text and "refused permanently" in text and "attempt 1 failed" in text
    for secret in ("Ada", "Lovelace", "analytical", "fernleaf.example>", "@", "+44", "brass"):
        assert secret not in text, secret
    assert "unknown" in {j["recipient"]: j for j in rows(app)}["shops@fernleaf.example"]["last_error"]


def test_confirmations_to_one_address_are_capped_and_sales_still_hear(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url, confirmations_per_day="2")
    client = app.test_client()
    # The same mailbox, written three ways: the cap ignores case.
    for email in ("ada@analytical.example.com", "ADA@analytical.example.com", "Ada@Analytical.EXAMPLE.com"):
        assert client.post("/api/forms/consultation", json={**consultation, "email": email}).status_code == 201
    Worker(app.extensions["capture"]).run_once()
    by_kind = {}
    for job in rows(app):
        by_kind.setdefault(job["kind"], []).append(job["status"])
    assert by_kind["notify_sales"] == ["sent"] * 9  # per lead: shops@, sales@ and its owner
    assert sorted(by_kind["confirm_visitor"]) == ["dropped", "sent", "sent"]
    confirmations = [m for m in smtp_sink.messages if ".confirm@" in m.message["Message-ID"]]
    assert len(confirmations) == 2 and len(smtp_sink.messages) == 11
    dropped = next(j for j in rows(app) if j["status"] == "dropped")
    assert "2 confirmations to this address" in dropped["last_error"]
    health = client.get("/api/health").json["outbox"]
    assert health["dropped"] == 1 and health["dead"] == 0 and health["attention"] is False


def test_the_cap_counts_only_the_last_day(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url, confirmations_per_day="1")
    client = app.test_client()
    client.post("/api/forms/consultation", json=consultation)
    Worker(app.extensions["capture"]).run_once()
    with app.extensions["capture"].engine.begin() as conn:  # that one was sent yesterday
        conn.execute(update(outbox_table).values(created_at=utcnow() - timedelta(hours=25)))
    client.post("/api/forms/consultation", json=consultation)
    Worker(app.extensions["capture"]).run_once()
    assert [j["status"] for j in rows(app) if j["kind"] == "confirm_visitor"] == ["sent", "sent"]
