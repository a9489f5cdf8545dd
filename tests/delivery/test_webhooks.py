"""Outgoing webhooks (capture/delivery/webhooks.py) against a real receiver on loopback.

The receiver is an http.server in a thread that verifies every signature with
the `standardwebhooks` package, fails the first delivery of some events with
a 500, refuses one endpoint with a 400, and records what it accepted by
webhook-id, so each test can say every event arrived exactly once. It can
also trickle its status line a byte a second, as a slow or hostile receiver
does. Retries are made due by moving `available_at`, never by sleeping.
"""
from __future__ import annotations

import base64
import json
import logging
import secrets
import shutil
import ssl
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from sqlalchemy import select, update
from standardwebhooks import Webhook, WebhookVerificationError

from capture.booking import appointments
from capture.pipeline import stages
from capture.privacy import erasure
from capture.pipeline import tray
from capture.delivery import webhooks
from capture.delivery import outbox as queue
from capture.core.clock import utcnow
from capture.core.setting_checks import ConfigError
from capture.core.settings import load_settings
from capture.db.models import outbox
from capture.pipeline.stages import Change
from capture.schema.sales import SalesError, parse_sales
from capture.db.store import get_lead
from capture.delivery.worker import Worker, start_threads, stop_threads
from capture.delivery.registry import Kind
from tests.conftest import ROOT, need_service
from tests.booking.test_appointments import first_slots, visitor
from tests.pipeline.test_tray import PITCH
from tests.delivery.test_worker import wait_until

MAYA = "maya@fernleaf.example"
ALL = ["lead.created", "lead.status_changed", "booking.created", "booking.cancelled"]
STATUS_LINE = b"HTTP/1.1 204 No Content\r\n"


def make_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Receiver:
    """What a CRM does: verify, answer, keep each event once (by webhook-id)."""

    def __init__(self, secrets_by_name: dict[str, str], tls: ssl.SSLContext | None = None):
        self.scheme = "https" if tls else "http"
        self.verifiers = {name: Webhook(secret) for name, secret in secrets_by_name.items()}
        self.fail_first: set[str] = set()  # event types whose first delivery gets a 500
        self.answer: dict[str, int] = {}  # endpoint name -> the status it always answers
        self.delay = 0.0
        self.tries: Counter = Counter()  # (endpoint, webhook-id) -> requests received
        self.accepted: list[tuple[str, str, dict]] = []  # (endpoint, webhook-id, payload) answered 2xx
        self.requests: list[dict] = []  # every request: path, body and headers
        self.bad_signatures = 0
        self.trickle = False  # the status line a byte a second (all at once after `released`)
        self.released = threading.Event()
        self.trickling = threading.Event()  # a trickled answer has begun
        self.hung_up = threading.Event()  # the client hung up on a trickled answer
        self.written = 0  # bytes of the status line it had when it hung up
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.handle(self, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_port}/hooks/{name}"

    def handle(self, request, body: bytes) -> None:
        name = request.path.rsplit("/", 1)[-1]
        headers = dict(request.headers.items())
        with self.lock:
            self.requests.append({"path": request.path, "body": body, **{k.lower(): v for k, v in headers.items()}})
        time.sleep(self.delay)
        try:
            payload = self.verifiers[name].verify(body, headers)
        except (KeyError, WebhookVerificationError):
            with self.lock:
                self.bad_signatures += 1
            return self.reply(request, 401)
        key = (name, headers["webhook-id"])
        with self.lock:
            self.tries[key] += 1
            first = self.tries[key] == 1
        if name in self.answer:
            return self.reply(request, self.answer[name], location=self.url("crm"))
        if first and payload["type"] in self.fail_first:
            return self.reply(request, 500)
        if self.trickle and not self.trickled(request):
            return
        with self.lock:
            self.accepted.append((name, headers["webhook-id"], payload))
        if not self.trickle:
            self.reply(request, 204)

    def trickled(self, request) -> bool:
        """A 204 whose status line comes a byte a second; False if the client hung up first."""
        self.trickling.set()
        request.close_connection = True
        try:
            for self.written, byte in enumerate(STATUS_LINE):
                request.wfile.write(bytes([byte]))
                self.released.wait(1.0)
            request.wfile.write(b"Content-Length: 0\r\n\r\n")
        except OSError:  # reset or broken pipe: the client is gone
            self.hung_up.set()
            return False
        return True

    @staticmethod
    def reply(request, status: int, location: str | None = None) -> None:
        request.send_response(status)
        if location and 300 <= status < 400:
            request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def events(self, name: str = "crm") -> list[tuple[str, dict]]:
        """(type, data) of what `name` accepted, in order."""
        return [(p["type"], p["data"]) for n, _, p in self.accepted if n == name]

    def assert_once(self) -> None:
        """Every event accepted exactly once per endpoint, and every signature good."""
        ids = Counter((name, wid) for name, wid, _ in self.accepted)
        assert [key for key, n in ids.items() if n > 1] == []
        assert self.bad_signatures == 0


@pytest.fixture
def keys() -> dict[str, str]:
    return {"crm": make_secret(), "sheet": make_secret()}


def serving(found: Receiver):
    found.thread.start()
    yield found
    found.released.set()
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def receiver(keys):
    yield from serving(Receiver(keys))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A throwaway self-signed certificate (and key) for 127.0.0.1, made by the openssl command."""
    if shutil.which("openssl") is None:
        need_service("the openssl command, to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_receiver(keys, certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from serving(Receiver(keys, tls=context))


def sales_file(tmp_path, endpoints: list[dict]):
    raw = yaml.safe_load((ROOT / "sales.yml").read_text())
    raw["webhooks"] = endpoints
    path = tmp_path / "sales-webhooks.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def hooked(make_app, receiver, keys, tmp_path):
    """An app whose sales.yml sends every event to `crm` and lead.created to `sheet`."""
    def build(**overrides):
        path = sales_file(tmp_path, [{"name": "crm", "url": receiver.url("crm"), "events": ALL},
                                     {"name": "sheet", "url": receiver.url("sheet"), "events": ["lead.created"]}])
        return make_app(sales=str(path), webhook_secret_crm=keys["crm"], webhook_secret_sheet=keys["sheet"],
                        **overrides)
    return build


def ext(app):
    return app.extensions["capture"]


def hooks(app, lead_id: str | None = None) -> list[dict]:
    query = select(outbox).where(outbox.c.kind == Kind.WEBHOOK).order_by(outbox.c.id)
    if lead_id:
        query = query.where(outbox.c.lead_id == lead_id)
    with ext(app).engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def make_due(app) -> None:
    """What waiting out the retry schedule would do."""
    with ext(app).engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.status == "pending", outbox.c.scheduled_for.is_(None))
                     .values(available_at=utcnow() - timedelta(seconds=1)))


def post(client, data: dict) -> str:
    response = client.post("/api/forms/consultation", json=data)
    assert response.status_code == 201
    return response.json["id"]


# --- delivery ---------------------------------------------------------------------------

def test_each_event_arrives_once_signed_retried_after_a_500_and_a_400_is_dead(hooked, receiver, consultation,
                                                                             caplog):
    app = hooked()
    receiver.fail_first = {"lead.created", "lead.status_changed"}
    receiver.answer["sheet"] = 400
    caplog.set_level(logging.INFO, logger="capture")
    lead_id = post(app.test_client(), consultation)
    rows = hooks(app, lead_id)
    assert [(r["recipient"], r["ref"]) for r in rows] == [("crm", f"evt_{lead_id}.created"),
                                                         ("sheet", f"evt_{lead_id}.created")]
    assert len({r["message_id"] for r in rows}) == 2

    Worker(ext(app)).run_once()
    crm, sheet = hooks(app, lead_id)
    assert (crm["status"], crm["attempts"], crm["last_error"]) == (
        "pending", 1, "webhook endpoint crm answered HTTP 500")
    assert (sheet["status"], sheet["last_error"]) == ("dead", "permanent: webhook endpoint sheet answered HTTP 400")
    assert receiver.accepted == []
    Worker(ext(app)).run_once()  # not due yet: nothing tried
    assert receiver.tries[("crm", crm["ref"])] == 1
    make_due(app)
    Worker(ext(app)).run_once()
    assert hooks(app, lead_id)[0]["status"] == "sent"
    assert receiver.tries[("crm", crm["ref"])] == 2  # the same webhook-id both times

    [(kind, data)] = receiver.events()
    lead = data["lead"]
    assert kind == "lead.created"
    assert (lead["id"], lead["form"], lead["status"], lead["email"], lead["name"]) == (
        lead_id, "consultation", "new", consultation["email"], consultation["name"])
    assert lead["owner"] in (MAYA, "tom@fernleaf.example") and lead["service"] == "ecommerce"
    assert lead["answers"]["budget"] == "5k-10k" and "message" not in lead["answers"]  # free text stays
    assert lead["url"].endswith(f"/desk/leads/{lead_id}") and lead["currency"] == "GBP"

    # A status change (and a note alone, which is no news) in the pipeline's own transaction.
    stages.change_status(ext(app).engine, ext(app).sales, lead_id, Change("contacted"), MAYA)
    stages.change_status(ext(app).engine, ext(app).sales, lead_id, Change("contacted", note="Called"), MAYA)
    stages.change_status(ext(app).engine, ext(app).sales, lead_id, Change("won", value=850000), MAYA)
    changed = [r for r in hooks(app, lead_id) if r["ref"].split(".")[1] == "status"]
    assert [r["recipient"] for r in changed] == ["crm", "crm"]  # sheet does not take it
    for _ in range(3):
        Worker(ext(app)).run_once()
        make_due(app)
    # Retries may reorder events: the timestamp says when each happened, and every one
    # carries the lead as it is now.
    arrived = sorted((p["timestamp"], int(wid.rsplit(".", 1)[1]), p) for _, wid, p in receiver.accepted
                     if p["type"] == "lead.status_changed")
    assert {p["data"]["lead"]["status"] for _, _, p in arrived} == {"won"}
    changes = [p["data"]["change"] for _, _, p in arrived]
    assert changes == [{"from": "new", "to": "contacted", "by": MAYA, "deal_value": None, "lost_reason": None},
                       {"from": "contacted", "to": "won", "by": MAYA, "deal_value": 850000, "lost_reason": None}]
    receiver.assert_once()
    assert {r["content-type"] for r in receiver.requests} == {"application/json"}

    # The dead letter: listed like mail, and sent again once the receiver is fixed.
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["outbox", "list", "--status", "dead"]).output
    assert "dead    webhook" in listed and "to sheet: lead.created" in listed
    assert "last error: permanent: webhook endpoint sheet answered HTTP 400" in listed
    assert "to crm: lead.status_changed" in runner.invoke(args=["outbox", "list"]).output
    del receiver.answer["sheet"]
    assert runner.invoke(args=["outbox", "retry", str(sheet["id"])]).exit_code == 0
    Worker(ext(app)).run_once()
    assert [k for k, _ in receiver.events("sheet")] == ["lead.created"]
    receiver.assert_once()
    # Logs name jobs, leads and endpoints, never the person.
    for value in (consultation["email"], consultation["name"], consultation["phone"], "Analytical"):
        assert value not in caplog.text


def test_the_signature_is_dated_by_the_service_clock(clock, hooked, receiver, keys, consultation):
    # A receiver checks the timestamp against its own clock (five minutes either way): the
    # signature carries the service's time, the one a test moves, and no other clock's.
    app = hooked()
    post(app.test_client(), consultation)
    Worker(ext(app)).run_once()
    sent = [r for r in receiver.requests if r["path"] == "/hooks/crm"]
    assert [r["webhook-timestamp"] for r in sent] == [str(int(clock.moment.timestamp()))]
    with time_machine.travel(clock.moment, tick=False):  # a receiver whose clock agrees with ours
        headers = {k: v for k, v in sent[0].items() if k.startswith("webhook-")}
        assert Webhook(keys["crm"]).verify(sent[0]["body"], headers)["type"] == "lead.created"


def test_booking_created_and_cancelled_arrive_with_the_booking(hooked, receiver):
    app = hooked()
    client = app.test_client()
    slot = first_slots(client)[0]["start"]
    lead_id = post(client, visitor(1, slot))
    made = appointments.current(ext(app).engine, lead_id)
    Worker(ext(app)).run_once()
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], MAYA, ext(app).mail_domain, utcnow())
    assert appointments.cancel(ext(app).engine, ext(app).sales, made["id"], MAYA, ext(app).mail_domain,
                               utcnow()) is None  # once
    Worker(ext(app)).run_once()
    found = receiver.events()
    assert [kind for kind, _ in found] == ["lead.created", "booking.created", "booking.cancelled",
                                           "lead.status_changed"]
    assert found[0][1]["lead"]["status"] == "consultation"  # booked on arrival: no separate status change
    assert found[3][1]["change"] == {"from": "consultation", "to": "contacted", "by": MAYA, "deal_value": None,
                                     "lost_reason": None}  # no consultation any more: back to contacted
    booked, cancelled = found[1][1]["booking"], found[2][1]["booking"]
    assert (booked["id"], cancelled["id"], cancelled["status"]) == (made["id"], made["id"], "cancelled")
    assert booked["starts_at"] == webhooks.iso(made["starts_at"]) and booked["host"] == made["host"]
    assert [k for k, _ in receiver.events("sheet")] == ["lead.created"]
    receiver.assert_once()


def test_sales_booking_a_requested_time_is_a_status_change_and_a_booking(hooked, receiver, consultation):
    app = hooked()
    client = app.test_client()
    lead_id = post(client, consultation)
    start = first_slots(client)[0]["start"]
    appointments.book_requested(ext(app).engine, ext(app).sales, lead_id, datetime.fromisoformat(start), MAYA,
                                ext(app).mail_domain, utcnow())
    Worker(ext(app)).run_once()
    kinds = [kind for kind, _ in receiver.events()]
    assert kinds == ["lead.created", "lead.status_changed", "booking.created"]
    assert receiver.events()[1][1]["change"]["to"] == "consultation"


# --- what never sends -----------------------------------------------------------------------

def test_spam_never_triggers_one_and_a_release_sends_lead_created_once(hooked, receiver, consultation):
    app = hooked()
    held = post(app.test_client(), {**consultation, "message": PITCH, "time_on_form": "900"})
    assert get_lead(ext(app).engine, held)["spam"] is True and hooks(app, held) == []
    Worker(ext(app)).run_once()
    assert receiver.requests == []
    tray.release(ext(app), held, MAYA)
    tray.release(ext(app), held, MAYA)
    Worker(ext(app)).run_once()
    assert [(name, p["type"]) for name, _, p in receiver.accepted] == [("crm", "lead.created"),
                                                                      ("sheet", "lead.created")]
    receiver.assert_once()


def test_a_lead_marked_spam_before_delivery_drops_its_webhooks_and_sends_them_if_released(hooked, receiver,
                                                                                         consultation):
    app = hooked()
    lead_id = post(app.test_client(), consultation)
    tray.hold(ext(app), lead_id, MAYA)
    assert {(r["status"], r["last_error"]) for r in hooks(app, lead_id)} == {("dropped", tray.HELD)}
    Worker(ext(app)).run_once()
    assert receiver.requests == []
    tray.release(ext(app), lead_id, MAYA)
    Worker(ext(app)).run_once()
    assert sorted(n for n, _, _ in receiver.accepted) == ["crm", "sheet"]
    receiver.assert_once()


def test_erasure_drops_the_webhooks_not_yet_delivered(hooked, receiver, consultation):
    app = hooked()
    lead_id = post(app.test_client(), consultation)
    erasure.erase(ext(app).engine, ext(app).schema, consultation["email"], MAYA, utcnow(),
                  sales=ext(app).sales, domain=ext(app).mail_domain)
    Worker(ext(app)).run_once()  # what waits is decided when sent: nothing about an erased lead
    assert {(r["status"], r["last_error"]) for r in hooks(app, lead_id)} == {("dropped", "not sent: the lead was erased")}
    assert receiver.requests == []


def test_an_endpoint_removed_from_sales_yml_drops_what_it_had_waiting(hooked, receiver, consultation, make_app,
                                                                      keys, tmp_path):
    app = hooked()
    lead_id = post(app.test_client(), consultation)
    only_crm = sales_file(tmp_path, [{"name": "crm", "url": receiver.url("crm"), "events": ["lead.created"]}])
    later = make_app(sales=str(only_crm), webhook_secret_crm=keys["crm"])
    Worker(ext(later)).run_once()
    states = {r["recipient"]: (r["status"], r["last_error"]) for r in hooks(later, lead_id)}
    assert states == {"crm": ("sent", None),
                      "sheet": ("dropped", "not sent: the webhook endpoint sheet is no longer in sales.yml")}


# --- how an answer is read -----------------------------------------------------------------

@pytest.mark.parametrize("code, permanent", [(500, False), (502, False), (503, False), (408, False),
                                             (429, False), (400, True), (401, True), (404, True),
                                             (410, True), (301, True), (307, True)])
def test_5xx_408_and_429_are_retried_other_4xx_and_redirects_are_not(code, permanent):
    error = webhooks.refusal("crm", code)
    assert (error.permanent, error.unreachable) == (permanent, False)
    assert f"HTTP {code}" in str(error)


def test_a_redirect_is_never_followed(hooked, receiver, consultation):
    app = hooked()
    receiver.answer["sheet"] = 307  # to the crm endpoint's URL
    lead_id = post(app.test_client(), consultation)
    Worker(ext(app)).run_once()
    sheet = [r for r in hooks(app, lead_id) if r["recipient"] == "sheet"][0]
    assert sheet["status"] == "dead" and "a redirect, which is never followed" in sheet["last_error"]
    assert [r["path"] for r in receiver.requests].count("/hooks/crm") == 1  # its own delivery only


def test_no_answer_in_time_or_no_server_is_retried_without_stopping_the_mail(hooked, receiver, consultation,
                                                                             tmp_path):
    app = hooked(mail_timeout="0.3s")  # the webhook's deadline is never above it
    receiver.delay = 0.6
    lead_id = post(app.test_client(), consultation)
    Worker(ext(app)).run_once()
    states = {r["recipient"]: (r["status"], r["last_error"]) for r in hooks(app, lead_id)}
    assert states["crm"] == ("pending", "webhook endpoint crm: no answer within 0.3s")
    with ext(app).engine.connect() as conn:  # the mail went on
        mail = conn.execute(select(outbox.c.status).where(
            outbox.c.lead_id == lead_id, outbox.c.kind != Kind.WEBHOOK, outbox.c.scheduled_for.is_(None)))
        assert set(mail.scalars()) == {"sent"}
    receiver.server.shutdown()
    receiver.server.server_close()
    make_due(app)
    receiver.delay = 0
    Worker(ext(app)).run_once()
    crm = [r for r in hooks(app, lead_id) if r["recipient"] == "crm"][0]
    assert (crm["status"], crm["attempts"]) == ("pending", 2)
    assert crm["last_error"] == "webhook endpoint crm: cannot connect (ConnectionRefusedError)"


@pytest.mark.slow
def test_a_receiver_trickling_its_status_line_is_hung_up_on_at_the_deadline_and_never_sent_twice(
        hooked, receiver, consultation):
    # A deadline of 2.5 s (CAPTURE_MAIL_TIMEOUT) against a byte a second: no single read waits
    # long enough to time out, only the total deadline can end it. The lease is only twice that.
    app = hooked(mail_timeout="2.5s", mail_lease="5s")
    engine = ext(app).engine
    lead_id = post(app.test_client(), consultation)
    Worker(ext(app)).run_once()
    receiver.trickle = True
    stages.change_status(engine, ext(app).sales, lead_id, Change("contacted"), MAYA)
    [job] = [r for r in hooks(app, lead_id) if r["status"] == "pending"]

    # Another worker keeps trying to claim while the first one waits on the receiver.
    first = threading.Thread(target=Worker(ext(app)).run_once)
    first.start()
    assert receiver.trickling.wait(5)
    others = []
    while first.is_alive():
        others += queue.claim(engine, "second worker", 5.0, limit=5)
        first.join(0.2)
    others += queue.claim(engine, "second worker", 5.0, limit=5)
    assert others == []  # never handed to a second worker: no duplicate delivery

    assert receiver.hung_up.wait(5) and receiver.written < len(STATUS_LINE)  # abandoned mid status line
    [row] = [r for r in hooks(app, lead_id) if r["id"] == job["id"]]
    assert (row["status"], row["attempts"], row["lease_until"]) == ("pending", 1, None)
    assert row["last_error"] == "webhook endpoint crm: no answer within 2.5s"
    assert row["available_at"] > utcnow()  # due later, on the retry schedule
    assert receiver.tries[("crm", job["ref"])] == 1 and "lead.status_changed" not in dict(receiver.events())

    receiver.trickle = False
    make_due(app)
    Worker(ext(app)).run_once()
    [row] = [r for r in hooks(app, lead_id) if r["id"] == job["id"]]
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert [kind for kind, _ in receiver.events()].count("lead.status_changed") == 1
    receiver.assert_once()


def test_a_hanging_receiver_never_holds_the_mail_even_with_one_mail_thread(hooked, receiver, consultation):
    app = hooked(worker_threads="1")  # the threads the embedded and standalone workers start
    engine, client = ext(app).engine, app.test_client()
    first = post(client, consultation)
    Worker(ext(app)).run_once()
    receiver.trickle = True  # 26 s of status line, past the 10 s deadline, unless released
    stages.change_status(engine, ext(app).sales, first, Change("contacted"), MAYA)
    started = start_threads(ext(app), ext(app).settings.delivery.threads)
    try:
        assert receiver.trickling.wait(5)  # the status change's webhook is in flight
        second = post(client, {**consultation, "name": "Grace Hopper", "email": "grace@cobol.example.com",
                               "message": "A shop for compilers, please."})
        wait_until(lambda: notifications(app, second) == {"sent"}, 8, "the new lead's sales notification")
        # ... delivered while the webhook still waits for its status line.
        [hook] = [r for r in hooks(app, first) if r["ref"].split(".")[1] == "status"]
        assert hook["status"] == "sending" and not receiver.hung_up.is_set()
        assert "lead.status_changed" not in dict(receiver.events())
        receiver.released.set()
        wait_until(lambda: "lead.status_changed" in dict(receiver.events()), 5, "the webhook")
    finally:
        receiver.released.set()
        stop_threads(started)
    assert {w.lane for w, _ in started} == {"mail", "webhooks"} and len(started) == 2
    receiver.assert_once()


def notifications(app, lead_id: str) -> set[str]:
    query = select(outbox.c.status).where(outbox.c.lead_id == lead_id, outbox.c.kind == "notify_sales")
    with ext(app).engine.connect() as conn:
        return set(conn.execute(query).scalars())


@pytest.mark.slow
def test_over_https_the_certificate_is_checked_and_the_deadline_holds(make_app, tls_receiver, keys, certificate,
                                                                    consultation, tmp_path):
    path = sales_file(tmp_path, [{"name": "crm", "url": tls_receiver.url("crm"), "events": ALL}])
    app = make_app(sales=str(path), webhook_secret_crm=keys["crm"], mail_timeout="2.5s", mail_lease="5s")
    lead_id = post(app.test_client(), consultation)
    Worker(ext(app)).run_once()  # the usual authorities (certifi): they never signed this certificate
    [crm] = hooks(app, lead_id)
    assert (crm["status"], crm["last_error"]) == (
        "pending", "webhook endpoint crm: cannot connect (SSLCertVerificationError)")
    assert tls_receiver.requests == []

    trusting = Worker(ext(app))
    trusting.webhooks.tls = ssl.create_default_context(cafile=certificate[0])
    make_due(app)
    trusting.run_once()
    assert hooks(app, lead_id)[0]["status"] == "sent" and [k for k, _ in tls_receiver.events()] == ["lead.created"]
    assert tls_receiver.requests[0]["host"] == f"127.0.0.1:{tls_receiver.server.server_port}"

    tls_receiver.trickle = True  # inside TLS, a byte a second: hung up on at the deadline all the same
    stages.change_status(ext(app).engine, ext(app).sales, lead_id, Change("contacted"), MAYA)
    trusting.run_once()
    changed = hooks(app, lead_id)[1]
    assert (changed["status"], changed["last_error"]) == ("pending", "webhook endpoint crm: no answer within 2.5s")
    assert tls_receiver.hung_up.wait(5) and tls_receiver.written < len(STATUS_LINE)
    tls_receiver.assert_once()


# --- settings ---------------------------------------------------------------------------------

def test_a_listed_endpoint_without_its_secret_stops_every_process_naming_the_variable(make_app, receiver, tmp_path,
                                                                                      capsys, keys):
    path = sales_file(tmp_path, [{"name": "crm", "url": receiver.url("crm"), "events": ALL}])
    for embedded in ("0", "1"):  # web process, worker, CLI: one clear line at start, like any bad setting
        with pytest.raises(SystemExit) as stopped:
            make_app(sales=str(path), embedded_worker=embedded)
        assert stopped.value.code == 4
        [line] = capsys.readouterr().err.strip().splitlines()[-1:]
        assert line.startswith("capture: CAPTURE_WEBHOOK_SECRET_CRM: not set, but") and "'crm'" in line
    ok = make_app(sales=str(path), webhook_secret_crm=keys["crm"]).test_cli_runner().invoke(args=["check"])
    assert ok.exit_code == 0 and "Webhook crm: booking.cancelled, booking.created" in ok.output


def test_secrets_are_known_settings_and_checked(keys):
    settings = load_settings({"secret_key": "x" * 32, "webhook_secret_crm": keys["crm"]}, environ={})
    assert settings.webhook_secrets == {"crm": keys["crm"]} and settings.warnings == ()
    for bad in ("hunter2", "whsec_c2hvcnQ=", "whsec_!!!!" + "A" * 40):
        with pytest.raises(ConfigError, match=r"^CAPTURE_WEBHOOK_SECRET_CRM: not a webhook secret"):
            load_settings({"secret_key": "x" * 32, "webhook_secret_crm": bad}, environ={})
        with pytest.raises(ConfigError) as found:
            load_settings({"secret_key": "x" * 32, "webhook_secret_crm": bad}, environ={})
        assert bad.removeprefix("whsec_") not in str(found.value)  # a secret is never echoed


LONDON = ZoneInfo("Europe/London")
ENDPOINT = {"name": "crm", "url": "https://crm.example.com/hooks", "events": ["lead.created"]}


@pytest.mark.parametrize("change, message", [
    ({"url": "http://crm.example.com/hooks"}, "webhooks[0].url: 'http://crm.example.com/hooks' must use https://"),
    ({"url": "https://user:pw@crm.example.com/"}, "webhooks[0].url: put no credentials in the URL"),
    ({"url": "ftp://crm.example.com/"}, "webhooks[0].url: 'ftp://crm.example.com/' is not an https:// URL"),
    ({"url": "https://crm.example.com:99999/"}, "webhooks[0].url: 'https://crm.example.com:99999/' is not a URL"),
    ({"events": ["lead.deleted"]}, "webhooks[0].events: unknown event 'lead.deleted'"),
    ({"events": []}, "webhooks[0].events: is missing or empty"),
    ({"name": "CRM"}, "webhooks[0].name: 'CRM' must be lower-case letters"),
    ({"secret": "whsec_x"}, "webhooks[0].secret: unknown key"),
])
def test_a_bad_endpoint_is_one_line_naming_it(change, message):
    raw = yaml.safe_load((ROOT / "sales.yml").read_text())
    raw["webhooks"] = [{**ENDPOINT, **change}]
    with pytest.raises(SalesError) as found:
        parse_sales(raw, LONDON)
    assert str(found.value).startswith(f"sales.yml: {message}")


def test_plain_http_is_for_this_machine_only_and_names_are_unique():
    raw = yaml.safe_load((ROOT / "sales.yml").read_text())
    raw["webhooks"] = [{**ENDPOINT, "url": "http://127.0.0.1:8080/in"},
                       {**ENDPOINT, "name": "b", "url": "http://[::1]/"},
                       {**ENDPOINT, "name": "c", "url": "http://localhost/"}]
    assert [e.secret_variable for e in parse_sales(raw, LONDON).webhooks] == [
        "CAPTURE_WEBHOOK_SECRET_CRM", "CAPTURE_WEBHOOK_SECRET_B", "CAPTURE_WEBHOOK_SECRET_C"]
    raw["webhooks"].append(ENDPOINT)
    with pytest.raises(SalesError, match=r"webhooks\[3\].name: 'crm' is listed twice"):
        parse_sales(raw, LONDON)


def test_event_ids_name_what_the_payload_is_built_from():
    assert webhooks.parse_id(webhooks.event_id("lead.status_changed", "L1", 42)) == ("lead.status_changed", "L1", 42)
    assert webhooks.parse_id("evt_B-x_1.cancelled") == ("booking.cancelled", "B-x_1", None)
    for bad in (None, "", "evt_L1", "evt_L1.created.3", "evt_L1.status", "evt_L1.status.x", "lead.L1.created"):
        with pytest.raises(ValueError):
            webhooks.parse_id(bad)




def test_erasure_tells_the_receiver_with_the_lead_id_only_and_cancels_the_meeting(make_app, receiver, keys,
                                                                                 tmp_path):
    path = sales_file(tmp_path, [{"name": "crm", "url": receiver.url("crm"),
                                  "events": ["lead.erased", "booking.cancelled", "booking.moved"]}])
    app = make_app(sales=str(path), webhook_secret_crm=keys["crm"])
    client = app.test_client()
    slots = first_slots(client, days=14)
    lead_id = post(client, visitor(7, slots[-1]["start"]))
    made = appointments.current(ext(app).engine, lead_id)
    appointments.move(ext(app).engine, ext(app).sales, made["id"], datetime.fromisoformat(slots[-2]["start"]),
                      "visitor", ext(app).mail_domain, utcnow())
    Worker(ext(app)).run_once()
    erasure.erase(ext(app).engine, ext(app).schema, "v7@example.com", MAYA, utcnow(),
                  sales=ext(app).sales, domain=ext(app).mail_domain)
    Worker(ext(app)).run_once()
    found = receiver.events()
    assert [kind for kind, _ in found] == ["booking.moved", "lead.erased", "booking.cancelled"]
    assert found[0][1]["booking"]["starts_at"] == webhooks.iso(datetime.fromisoformat(slots[-2]["start"]))
    assert found[1][1] == {"lead": {"id": lead_id}}  # nothing about the person
    assert found[2][1]["lead"]["email"] is None and found[2][1]["lead"]["name"] is None
    after = json.dumps(found[1:])  # what was sent once they were erased
    assert "v7@example.com" not in after and "Visitor 7" not in after
    receiver.assert_once()


def test_an_erasure_of_a_lead_in_the_spam_tray_is_still_told(make_app, receiver, keys, tmp_path, consultation):
    """The CRM heard of the lead before it went to the tray: it hears of its erasure too."""
    path = sales_file(tmp_path, [{"name": "crm", "url": receiver.url("crm"), "events": ["lead.created", "lead.erased"]}])
    app = make_app(sales=str(path), webhook_secret_crm=keys["crm"])
    lead_id = post(app.test_client(), consultation)
    Worker(ext(app)).run_once()
    tray.hold(ext(app), lead_id, MAYA)
    erasure.erase(ext(app).engine, ext(app).schema, consultation["email"], MAYA, utcnow(),
                  sales=ext(app).sales, domain=ext(app).mail_domain)
    Worker(ext(app)).run_once()
    assert [kind for kind, _ in receiver.events()] == ["lead.created", "lead.erased"]
