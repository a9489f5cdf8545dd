"""The inbound service as its own process, killed with SIGKILL in the middle of a message:
what it answered 250 is stored (with its event), what it had not answered is not, and the
sender's retry of either is stored once."""
from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
import time

from sqlalchemy import select

from capture.db.models import events, inbound_messages
from capture.delivery.worker import Worker
from tests.conftest import ROOT
from tests.gunicorn_server import free_port
from tests.inbound.mailers import REPLY_DOMAIN, client_reply, send
from tests.smtp_sink import smtp_sink, worker_env  # noqa: F401  (fixture)

ADA = "ada@analytical.example.com"


def start_inbound(env: dict, port: int, log_path) -> subprocess.Popen:
    """`flask --app capture inbound` as the deployed unit runs it, once it listens."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "capture", "inbound",
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, open(log_path).read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the inbound service did not start: " + open(log_path).read())


def stored(engine, lead_id: str) -> list[str]:
    with engine.connect() as conn:
        return [r.subject for r in conn.execute(select(inbound_messages.c.subject)
                                                .where(inbound_messages.c.lead_id == lead_id)
                                                .order_by(inbound_messages.c.id))]


def mail_events(engine, lead_id: str) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(events.c.id).where(events.c.lead_id == lead_id,
                                                          events.c.kind == "mail")).all())


def test_killed_mid_message_it_loses_nothing_it_acknowledged(make_app, smtp_sink, consultation,
                                                               migrated_database_url, tmp_path):
    app = make_app(mail_url=smtp_sink.url, reply_domain=REPLY_DOMAIN)
    ext = app.extensions["capture"]
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    Worker(ext).run_once()
    confirmation = next(m.message for m in smtp_sink.messages if m.recipients == [ADA])
    address = next(a.addr_spec for a in confirmation["Reply-To"].addresses if a.domain == REPLY_DOMAIN)
    first, second = (client_reply(confirmation, sender=ADA, name="Ada Lovelace", to=str(confirmation["Reply-To"]),
                                  at=confirmation["Date"].datetime, text=text)
                     for text in ("Tuesday suits me.", "Sorry, one more thing: " + "we sell gears. " * 400))
    env = worker_env(migrated_database_url, smtp_sink.url, reply_domain=REPLY_DOMAIN, dotenv="0")
    port, log = free_port(), tmp_path / "inbound.log"
    proc = start_inbound(env, port, log)
    try:
        assert send(port, first, [address], mail_from=ADA) == {}  # answered 250
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
        smtp.ehlo()
        assert smtp.mail(ADA)[0] == 250 and smtp.rcpt(address)[0] == 250
        smtp.putcmd("data")
        assert smtp.getreply()[0] == 354
        smtp.send(second[:len(second) // 2])  # half the message is on its way ...
        time.sleep(0.2)
        proc.kill()  # ... when the service is killed (SIGKILL: no clean-up of any kind)
        proc.wait(timeout=10)
        smtp.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    subjects = stored(ext.engine, lead_id)
    assert len(subjects) == 1 and subjects[0].startswith("Re: ")  # the acknowledged one, and only it
    assert mail_events(ext.engine, lead_id) == 1
    # The sender retries what was never acknowledged (and, to be safe, the first one too).
    proc = start_inbound(env, port, log)
    try:
        assert send(port, second, [address], mail_from=ADA) == {}
        assert send(port, first, [address], mail_from=ADA) == {}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert len(stored(ext.engine, lead_id)) == 2 and mail_events(ext.engine, lead_id) == 2
