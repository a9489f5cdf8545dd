"""The inbound SMTP service, for real: started on a loopback port, mail sent by smtplib.

The lead is made through the form API and its sales notification sent by the worker to a
sink; the replies below answer that very message, as a salesperson's or prospect's mail client would.
"""
from __future__ import annotations

import smtplib
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from capture.db.models import events, inbound_messages, outbox, reply_addresses
from capture.db.store import get_lead
from capture.delivery.worker import Worker
from capture.inbound import addresses, server
from capture.pipeline import tray
from capture.privacy import erasure
from tests.gunicorn_server import free_port
from tests.inbound.mailers import REPLY_DOMAIN, client_reply, send, wire
from tests.desk.test_desk import sign_in
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)

LONDON = ZoneInfo("Europe/London")
MAYA = "maya@fernleaf.example"
FRIDAY_FIVE = datetime(2026, 12, 11, 17, 0, tzinfo=LONDON)  # half an hour before the studio closes


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(timezone.utc)


@pytest.fixture
def inbound(make_app, smtp_sink, clock):
    """The app with a reply domain, its inbound service on a loopback port, mail out to a sink."""
    app = make_app(mail_url=smtp_sink.url, reply_domain=REPLY_DOMAIN)
    ctl = server.controller(app.extensions["capture"], "127.0.0.1", free_port(), max_size=200_000)
    ctl.start()
    yield SimpleNamespace(app=app, ext=app.extensions["capture"], port=ctl.port, sink=smtp_sink, clock=clock)
    ctl.stop()


def new_lead(box, consultation) -> tuple[str, object]:
    """A lead posted now, and the sales notification the worker sent its owner."""
    response = box.app.test_client().post("/api/forms/consultation", json=consultation)
    assert response.status_code == 201, response.json
    lead_id = response.json["id"]
    Worker(box.ext).run_once()
    owner = get_lead(box.ext.engine, lead_id)["owner"]
    notice = next(m.message for m in box.sink.messages
                  if m.recipients == [owner] and lead_id in m.message["Message-ID"])
    return lead_id, notice


def stored(box, lead_id: str) -> list[dict]:
    with box.ext.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(inbound_messages).where(
            inbound_messages.c.lead_id == lead_id).order_by(inbound_messages.c.id)).mappings()]


def mail_events(box, lead_id: str) -> list[dict]:
    with box.ext.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(events).where(events.c.lead_id == lead_id)
                                              .order_by(events.c.at, events.c.id)).mappings()]


def lead_address(notice) -> str:
    found = [a.addr_spec for a in notice["Reply-To"].addresses if a.domain == REPLY_DOMAIN]
    assert len(found) == 1, str(notice["Reply-To"])
    return found[0]


# --- the reply address in what we send ------------------------------------------------

def test_the_notification_says_reply_to_the_prospect_and_the_lead(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    reply_to = [a.addr_spec for a in notice["Reply-To"].addresses]
    assert reply_to[0] == consultation["email"]
    token = addresses.token_in(reply_to[1], REPLY_DOMAIN)
    assert token is not None and lead_id not in reply_to[1]  # opaque: the lead's id is not in it
    confirmation = next(m.message for m in inbound.sink.messages if m.recipients == [consultation["email"]])
    assert reply_to[1] in [a.addr_spec for a in confirmation["Reply-To"].addresses]


def test_without_a_reply_domain_the_reply_to_is_the_prospect_alone(make_app, smtp_sink, consultation, clock):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    Worker(app.extensions["capture"]).run_once()
    notices = [m.message for m in smtp_sink.messages if m.recipients != [consultation["email"]]]
    assert notices and all(str(m["Reply-To"]) == f"Ada Lovelace <{consultation['email']}>" for m in notices)
    assert lead_id


# --- a salesperson's reply stops the clock ----------------------------------------------

@pytest.mark.parametrize("written, received, minutes", [
    # Answered first thing on Monday: 30 minutes on Friday and 20 on Monday, not the weekend.
    (london(2026, 12, 14, 9, 20), london(2026, 12, 14, 9, 21), 50),
    # A Date later than we received it (a client with a fast clock) counts as received.
    (london(2026, 12, 14, 11, 0), london(2026, 12, 14, 9, 40), 70),
])
def test_a_salespersons_reply_from_their_own_mail_client_stops_the_clock(inbound, consultation, written,
                                                                         received, minutes):
    inbound.clock.set(FRIDAY_FIVE)
    lead_id, notice = new_lead(inbound, consultation)
    inbound.clock.set(received)
    raw = client_reply(notice, sender=MAYA, name="Maya Patel", to=str(notice["Reply-To"]), at=written,
                       text="Hi Ada, thanks for getting in touch. Does Tuesday at 10 suit you?")
    assert send(inbound.port, raw, [lead_address(notice)]) == {}
    lead = get_lead(inbound.ext.engine, lead_id)
    assert lead["status"] == "contacted"
    assert lead["first_contact_at"] == min(written, received)
    assert lead["first_response_minutes"] == minutes
    timeline = [(e["kind"], e["actor"], e["to_status"]) for e in mail_events(inbound, lead_id)]
    assert timeline[-2:] == [("mail", MAYA, None), ("status", MAYA, "contacted")]
    [message] = stored(inbound, lead_id)
    assert message["sender"] == "team" and message["raw"] == raw
    assert message["text"].startswith("Hi Ada, thanks for getting in touch.")
    assert "wrote:" not in message["text"] and "> " not in message["text"]  # no quoted history
    assert "brass gears" in raw.decode() and "brass gears" not in message["text"]


def test_the_reminder_and_escalation_of_a_lead_answered_by_mail_are_not_sent(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    inbound.clock.advance(minutes=10)
    raw = client_reply(notice, sender=MAYA, name="Maya Patel", to=str(notice["Reply-To"]),
                       at=inbound.clock.moment, text="Hello Ada, calling you in five minutes.")
    send(inbound.port, raw, [lead_address(notice)])
    with inbound.ext.engine.begin() as conn:  # time passes: both are due
        conn.execute(update(outbox).where(outbox.c.lead_id == lead_id, outbox.c.kind.in_(["remind_owner", "escalate"]))
                     .values(available_at=inbound.clock.moment - timedelta(seconds=1)))
        before = len(inbound.sink.messages)
    Worker(inbound.ext).run_once()
    assert len(inbound.sink.messages) == before
    with inbound.ext.engine.connect() as conn:
        states = {r.kind: r.status for r in conn.execute(select(outbox.c.kind, outbox.c.status)
                                                          .where(outbox.c.lead_id == lead_id))}
    assert states["remind_owner"] == states["escalate"] == "dropped"


def test_a_team_members_note_to_the_lead_alone_is_recorded_but_is_no_contact(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    raw = client_reply(notice, sender=MAYA, name="Maya Patel", to=lead_address(notice),
                       at=inbound.clock.moment, text="Note to self: call her after lunch.")
    send(inbound.port, raw, [lead_address(notice)])
    assert get_lead(inbound.ext.engine, lead_id)["status"] == "new"
    assert [m["sender"] for m in stored(inbound, lead_id)] == ["team"]


# --- automatic mail and duplicates --------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"X-Autoreply": "yes"},
    {"Precedence": "bulk"},
])
@pytest.mark.parametrize("sender", [MAYA, "ada@analytical.example.com"])
def test_an_out_of_office_changes_nothing(inbound, consultation, headers, sender):
    lead_id, notice = new_lead(inbound, consultation)
    raw = client_reply(notice, sender=sender, name="Away", to=str(notice["Reply-To"]), at=inbound.clock.moment,
                       text="I am out of the office until Monday.", headers=headers)
    assert send(inbound.port, raw, [lead_address(notice)], mail_from=sender) == {}
    lead = get_lead(inbound.ext.engine, lead_id)
    assert (lead["status"], lead["first_contact_at"]) == ("new", None)
    [message] = stored(inbound, lead_id)
    assert message["sender"] == "automatic" and message["automatic"]
    assert [e["kind"] for e in mail_events(inbound, lead_id)][-1] == "mail"  # on the timeline, as such


def test_our_own_message_echoed_back_is_automatic(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    assert send(inbound.port, wire(notice), [lead_address(notice)], mail_from="") == {}
    [message] = stored(inbound, lead_id)
    assert message["sender"] == "automatic"
    assert get_lead(inbound.ext.engine, lead_id)["status"] == "new"


def test_a_message_sent_twice_is_stored_once(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    raw = client_reply(notice, sender="ada@analytical.example.com", name="Ada Lovelace", to=lead_address(notice),
                       at=inbound.clock.moment, text="Tuesday works for me.")
    for _ in range(2):
        assert send(inbound.port, raw, [lead_address(notice)], mail_from="ada@analytical.example.com") == {}
    assert [m["sender"] for m in stored(inbound, lead_id)] == ["prospect"]
    assert [e["actor"] for e in mail_events(inbound, lead_id) if e["kind"] == "mail"] == ["visitor"]


# --- what the service refuses ----------------------------------------------------------------

def _refused(box, rcpt: str) -> tuple[int, bytes]:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(box.port, b"Subject: hi\r\n\r\nhello\r\n", [rcpt])
    return refused.value.recipients[rcpt]


@pytest.mark.parametrize("rcpt", [
    "someone@example.com",  # another domain: we are not a relay
    f"postmaster@{REPLY_DOMAIN}",  # not a reply address
    f"lead+{'a' * addresses.TOKEN_LENGTH}@{REPLY_DOMAIN}",  # the shape of a token, not one we made
    f"lead+{addresses.token_for('another-secret-key-0123456789', 'x' * 32)}@{REPLY_DOMAIN}",  # signed by another key
])
def test_mail_for_anything_but_a_leads_reply_address_is_refused_at_rcpt(inbound, consultation, rcpt):
    lead_id, _ = new_lead(inbound, consultation)
    code, _ = _refused(inbound, rcpt)
    assert code == 550
    assert stored(inbound, lead_id) == []


def test_a_reply_address_long_unused_is_refused(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    inbound.clock.advance(addresses.LIFETIME + timedelta(days=1))
    assert _refused(inbound, lead_address(notice))[0] == 550
    assert stored(inbound, lead_id) == []


def test_a_message_over_the_size_limit_is_refused(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    raw = client_reply(notice, sender=MAYA, name="Maya Patel", to=str(notice["Reply-To"]), at=inbound.clock.moment,
                       text="x" * 300_000)
    with pytest.raises(smtplib.SMTPException) as refused:
        send(inbound.port, raw, [lead_address(notice)])
    assert "552" in str(refused.value) or getattr(refused.value, "smtp_code", 0) == 552
    assert stored(inbound, lead_id) == [] and get_lead(inbound.ext.engine, lead_id)["status"] == "new"


def test_the_reply_is_on_the_lead_page_timeline_as_literal_text(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    raw = client_reply(notice, sender="ada@analytical.example.com", name="Ada Lovelace", to=lead_address(notice),
                       at=inbound.clock.moment, text="Tuesday <b>works</b> for me.")
    send(inbound.port, raw, [lead_address(notice)], mail_from="ada@analytical.example.com")
    client = inbound.app.test_client()
    sign_in(inbound.app, client, MAYA)
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert "<strong>Email</strong>" in page
    assert "Tuesday &lt;b&gt;works&lt;/b&gt; for me." in page


def test_a_reply_about_a_lead_in_the_spam_tray_is_kept_without_effect(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    tray.hold(inbound.ext, lead_id, MAYA)
    raw = client_reply(notice, sender=MAYA, name="Maya Patel", to=str(notice["Reply-To"]),
                       at=inbound.clock.moment, text="Hi Ada, thanks for getting in touch.")
    assert send(inbound.port, raw, [lead_address(notice)]) == {}
    [message] = stored(inbound, lead_id)
    assert message["event_id"] is None and get_lead(inbound.ext.engine, lead_id)["first_contact_at"] is None


def test_old_spam_goes_with_its_received_mail_and_reply_address(inbound, consultation):
    lead_id, notice = new_lead(inbound, consultation)
    tray.hold(inbound.ext, lead_id, MAYA)
    raw = client_reply(notice, sender="ada@analytical.example.com", name="Ada", to=lead_address(notice),
                       at=inbound.clock.moment, text="Buy cheap watches.")
    send(inbound.port, raw, [lead_address(notice)], mail_from="ada@analytical.example.com")
    inbound.clock.advance(inbound.ext.settings.retention.spam + timedelta(days=1))
    done = erasure.apply_retention(inbound.ext.engine, inbound.ext.schema, inbound.ext.settings.retention,
                                   inbound.clock.moment)
    assert done["spam_deleted"] == 1 and get_lead(inbound.ext.engine, lead_id) is None
    assert stored(inbound, lead_id) == []
    with inbound.ext.engine.connect() as conn:
        assert conn.execute(select(reply_addresses).where(reply_addresses.c.lead_id == lead_id)).first() is None
