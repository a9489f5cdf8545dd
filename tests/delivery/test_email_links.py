"""Every link in every kind of email, opened as a mail scanner or a link preview opens it.

Scanners send GET, HEAD and sometimes OPTIONS to each link within seconds of delivery.
None of those may change a lead, an event, a booking, a sign-in link or the outbox, and
none may leave a session cookie behind: only the page's button (a POST) acts.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from capture.booking import aftercare, appointments
from capture.db import store
from capture.desk import signin
from capture.pipeline import stages
from capture.core.clock import utcnow
from capture.db.models import bookings, events, leads, outbox, sign_in_links, sign_outs
from capture.delivery.registry import Kind
from capture.delivery.worker import Worker
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)

PUBLIC = "http://127.0.0.1:8000"
URL = re.compile(r"https?://[^\s\"'<>]+")
WATCHED = (leads, events, bookings, sign_in_links, sign_outs, outbox)
EVERY_KIND = set(Kind) - {Kind.WEBHOOK, Kind.RETENTION}  # every kind that is an email


def snapshot(engine) -> dict:
    """Every row of every table a link could change."""
    with engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
                for table in WATCHED}


def all_due(engine) -> None:
    """Reminders, escalations and the day-before reminder, due now (as if their time had come)."""
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.status == "pending").values(available_at=utcnow()))


def deliver(app) -> None:
    all_due(app.extensions["capture"].engine)
    Worker(app.extensions["capture"]).run_once()


@pytest.fixture
def every_kind_of_email(make_app, smtp_sink, consultation):
    """An app that has sent one or more emails of every kind; returns (app, {kind: [messages]})."""
    app = make_app(mail_url=smtp_sink.url, booking_alert="1")  # a second booking raises the managers' alert
    ext, client = app.extensions["capture"], app.test_client()
    slots = client.get("/api/slots?form=consultation&days=21").json["slots"]
    assert len(slots) >= 6, "the test needs free consultation times"
    requested = client.post("/api/forms/consultation", json=consultation).json["id"]
    booked = client.post("/api/forms/consultation", json={**consultation, "email": "bea@example.com",
                                                          "slot": slots[-1]["start"]}).json["id"]
    assert client.post("/api/forms/consultation", json={**consultation, "email": "cy@example.com",
                                                        "slot": slots[-6]["start"]}).status_code == 201
    deliver(app)  # notifications, confirmations (one with a tentative event), reminder, escalation
    owner = store.get_lead(ext.engine, requested)["owner"]
    other = next(m.email for m in ext.sales.with_role("sales") if m.email != owner)
    stages.assign(ext.engine, ext.sales, requested, other, owner, ext.mail_domain)
    deliver(app)  # the new owner's news, before a booking hands the lead to its host
    sales = "sales@fernleaf.example"
    appointments.book_requested(ext.engine, ext.sales, requested, _at(slots[-3]), sales, ext.mail_domain, utcnow())
    made = appointments.current(ext.engine, booked)
    appointments.move(ext.engine, ext.sales, made["id"], _at(slots[-5]), "visitor", ext.mail_domain, utcnow())
    assert signin.request_link(ext.engine, ext.sales, "maya@fernleaf.example", ext.mail_domain, utcnow())
    assert app.test_cli_runner().invoke(args=["digest", "--send"]).exit_code == 0
    # The host's after-meeting question, queued as the worker's look would once the moved meeting ended.
    ended = appointments.current(ext.engine, booked)["ends_at"]
    assert aftercare.queue(ext.engine, ext.mail_domain, ended + timedelta(minutes=1)) >= 1
    deliver(app)
    with ext.engine.connect() as conn:
        kinds = dict(conn.execute(select(outbox.c.message_id, outbox.c.kind)).all())
    found: dict[str, list] = {}
    for received in smtp_sink.messages:
        found.setdefault(kinds[received.message["Message-ID"]], []).append(received.message)
    assert {booked, requested}  # both stored
    return app, found


def links(message) -> set[str]:
    """Every URL of ours in the message's text, HTML and calendar parts."""
    found = set()
    for part in message.walk():
        if part.get_content_maintype() == "text":
            found.update(URL.findall(part.get_content()))
    return {url.rstrip(".,)") for url in found if url.startswith(PUBLIC)}


def test_every_kind_of_email_is_covered(every_kind_of_email):
    _app, found = every_kind_of_email
    assert set(found) == EVERY_KIND, "a new kind of email needs a place in this test"
    with_links = {kind for kind, messages in found.items() if any(links(m) for m in messages)}
    assert with_links == EVERY_KIND  # so the scan below opens links of every kind


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_opening_any_link_changes_nothing_and_sets_no_cookie(every_kind_of_email, method):
    app, found = every_kind_of_email
    engine = app.extensions["capture"].engine
    urls = {url for messages in found.values() for m in messages for url in links(m)}
    acting = [u for u in urls if "/actions/" in u or "/desk/sign-in/" in u]
    assert len(acting) >= 10, urls  # one-click actions, booking pages and the sign-in link are among them
    before = snapshot(engine)
    for url in sorted(urls):
        response = app.test_client().open(url.removeprefix(PUBLIC), method=method)
        assert response.status_code < 500, (url, response.status_code)
        assert "Set-Cookie" not in response.headers, (method, url)
        assert snapshot(engine) == before, (method, url)
    if method == "GET":  # the pages do offer the button that acts
        pages = [app.test_client().get(u.removeprefix(PUBLIC)).get_data(as_text=True) for u in acting]
        assert sum('method="post"' in page for page in pages) >= 5


def _at(slot: dict) -> datetime:
    return datetime.fromisoformat(slot["start"])
