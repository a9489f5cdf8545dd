"""The messages themselves: headers, parts, content, the .ics, injection, and each transport."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from email import message_from_binary_file, message_from_bytes, policy
from email.header import decode_header, make_header
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from capture.delivery import mail
from capture.core.paths import TEMPLATES
from capture.core.mail_url import parse_mail_url
from capture.schema.forms import ATTRIBUTION_FIELDS, TIME_ON_FORM, load_schema
from capture.db.models import outbox
from capture.delivery.transport import make_transport
from capture.delivery.worker import Worker
from tests.conftest import ROOT
from tests.smtp_sink import seven_bit_sink, smtp_sink  # noqa: F401  (fixtures)

ATTRIBUTION = {"page_url": "https://www.fernleaf.example/consultation/",
               "referrer": "https://www.google.com/", "landing_page": "https://www.fernleaf.example/blog/speed/",
               "first_utm_source": "google", "first_utm_medium": "cpc", "first_utm_campaign": "winter",
               "last_utm_source": "newsletter", "last_utm_medium": "email"}
EXPECTED_HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "X-Capture-Lead", "Auto-Submitted",
                    "Reply-To", "MIME-Version", "Content-Type"}
OWNER = "maya@fernleaf.example"  # sales.yml: the first lead of a round robin, and the fallback owner
HEADER_ATTACK = "Evil\r\nBcc: victim@attacker.example\r\nX-Injected: yes\n\rSubject: spam"
HTML_ATTACK = "<script>alert(1)</script><a href=\"https://attacker.example\">click</a><img src=x onerror=alert(2)>"


def deliver_all(app) -> Worker:
    worker = Worker(app.extensions["capture"])
    worker.run_once()
    return worker


def jobs(app) -> list[dict]:
    with app.extensions["capture"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.kind != "retention")  # a chore
                                              .order_by(outbox.c.id)).mappings()]


def by_kind(sink, lead_id: str) -> dict[str, list]:
    found = {"notify_sales": [], "confirm_visitor": []}
    for received in sink.messages:
        if received.message["X-Capture-Lead"] == lead_id:
            kind = "confirm_visitor" if ".confirm@" in received.message["Message-ID"] else "notify_sales"
            found[kind].append(received)
    return found


def invitation_part(msg, method: str):
    """A consultation's calendar as Gmail and Outlook expect it, checked; the inline part.

    multipart/mixed [multipart/alternative [text/plain, text/html,
    text/calendar; method=…; charset=UTF-8], application/ics attachment].
    """
    assert msg.get_content_type() == "multipart/mixed"
    body, attachment = msg.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html", "text/calendar"]
    calendar = list(body.iter_parts())[-1]
    assert calendar.get_param("method") == method and calendar.get_param("charset") == "UTF-8"
    assert calendar.get_content_disposition() is None  # inline, not an attachment
    assert str(Calendar.from_ical(calendar.get_content())["METHOD"]) == method
    assert (attachment.get_content_type(), attachment.get_filename()) == ("application/ics", "consultation.ics")
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_content().decode().splitlines() == calendar.get_content().splitlines()
    return calendar


def assert_seven_bit(received) -> None:
    """Nothing in the message needs 8BITMIME, and nothing declared it."""
    assert received.raw.isascii() and "BODY=8BITMIME" not in received.options
    for part in received.message.walk():
        assert part.get("Content-Transfer-Encoding", "7bit").lower() in {"7bit", "quoted-printable", "base64"}


# --- the sales notification ----------------------------------------------------------

def test_notification_arrives_with_headers_parts_and_content(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    client = app.test_client()
    lead_id = client.post("/api/forms/consultation", json={**consultation, **ATTRIBUTION}).json["id"]
    deliver_all(app)
    sales = by_kind(smtp_sink, lead_id)["notify_sales"]
    assert sorted(r.recipients[0] for r in sales) == [OWNER, "sales@fernleaf.example", "shops@fernleaf.example"]
    assert all(len(r.recipients) == 1 and r.sender == "leads@fernleaf.example" for r in sales)
    msg = sales[0].message
    day = date.fromisoformat(consultation["preferred_date"])
    assert msg["Subject"] == (f"Consultation requested: wants {day:%a} {day.day} {day:%b} morning"
                              " — Ada Lovelace, E-commerce site")
    assert msg["From"] == "Fernleaf Studio leads <leads@fernleaf.example>"
    assert msg["Reply-To"].addresses[0].addr_spec == "ada@analytical.example.com"
    assert msg["Reply-To"].addresses[0].display_name == "Ada Lovelace"
    assert msg["Message-ID"] in {j["message_id"] for j in jobs(app)}
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Analytical Engines Ltd" in body and "+44 20 7946 0018" in body
        assert "E-commerce site (from £8,500)" in body and "£5,000 – £10,000" in body
        assert "We sell brass gears online." in body
        assert f"{day:%A} {day.day} {day:%B %Y}, 09:00–12:00 (Europe/London" in body
        assert "https://www.fernleaf.example/blog/speed/" in body
        assert "source=google, medium=cpc, campaign=winter" in body
        assert "source=newsletter, medium=email" in body
        assert lead_id in body
        assert "First submission from this address." in body
    assert 'href="mailto:ada@analytical.example.com"' in html
    assert 'href="tel:+442079460018"' in html
    assert re.search(r"received \w{3} \d+ \w{3} \d{4}, \d\d:\d\d (GMT|BST)", text)


def test_a_returning_lead_is_flagged_with_count_and_date(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    client = app.test_client()
    for _ in range(2):
        client.post("/api/forms/consultation", json=consultation)
    third = client.post("/api/forms/consultation", json=consultation).json["id"]
    deliver_all(app)
    text = by_kind(smtp_sink, third)["notify_sales"][0].message.get_body(("plain",)).get_content()
    assert "Submitted before: 2 times, most recently" in text


def test_contact_form_subject_and_routing(make_app, smtp_sink):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = app.test_client().post("/api/forms/contact", json={
        "name": "Grace Hopper", "email": "grace@navy.example.com", "company": "Navy",
        "message": "Hello", "consent": True}).json["id"]
    deliver_all(app)
    found = by_kind(smtp_sink, lead_id)
    assert [r.recipients for r in found["notify_sales"]] == [["hello@fernleaf.example"], [OWNER]]
    assert found["confirm_visitor"] == []  # the contact form has no confirmation
    assert found["notify_sales"][0].message["Subject"] == "Contact enquiry: Grace Hopper, Navy"


# --- the visitor's confirmation -------------------------------------------------------

def test_confirmation_goes_to_the_visitor_after_sales_with_a_parseable_ics(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    deliver_all(app)
    found = by_kind(smtp_sink, lead_id)
    [confirmation] = found["confirm_visitor"]
    assert confirmation.recipients == ["ada@analytical.example.com"]
    assert confirmation.at >= max(r.at for r in found["notify_sales"])
    msg = confirmation.message
    assert msg["To"] == "ada@analytical.example.com"
    assert msg["Reply-To"] == "shops@fernleaf.example" and msg["Auto-Submitted"] == "auto-replied"
    assert "consultation request" in msg["Subject"]
    assert "We sell brass gears" not in msg.get_body(("plain",)).get_content()  # no free text echoed
    ics = invitation_part(msg, "PUBLISH")
    event = Calendar.from_ical(ics.get_content()).walk("VEVENT")[0]
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    london = ZoneInfo("Europe/London")
    day = date.fromisoformat(consultation["preferred_date"])
    assert start == datetime(day.year, day.month, day.day, 9, 0, tzinfo=london)
    assert end == datetime(day.year, day.month, day.day, 12, 0, tzinfo=london)
    assert start.utcoffset().total_seconds() == 0  # in UTC, as every invitation; the zone is attached
    assert [str(z["TZID"]) for z in Calendar.from_ical(ics.get_content()).walk("VTIMEZONE")] == ["Europe/London"]
    assert event["status"] == "TENTATIVE"
    assert str(event["uid"]) == f"consultation-{lead_id}@fernleaf.example"


def test_every_message_of_a_request_is_7_bit_and_a_server_without_8bitmime_takes_it(
        make_app, seven_bit_sink, consultation):
    app = make_app(mail_url=seven_bit_sink.url)
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    deliver_all(app)
    assert {j["status"] for j in jobs(app) if j["kind"] in ("notify_sales", "confirm_visitor")} == {"sent"}
    found = by_kind(seven_bit_sink, lead_id)
    assert len(found["notify_sales"]) == 3 and len(found["confirm_visitor"]) == 1
    for received in found["notify_sales"] + found["confirm_visitor"]:
        assert_seven_bit(received)
        text = received.message.get_body(("plain",)).get_content()
        assert "–" in text  # the non-ASCII text arrives intact ("09:00–12:00")
    [confirmation] = found["confirm_visitor"]
    invitation_part(confirmation.message, "PUBLISH")
    note = found["notify_sales"][0].message
    assert note.get_content_type() == "multipart/alternative"  # nothing booked: no calendar for sales
    assert "E-commerce site (from £8,500)" in note.get_body(("plain",)).get_content()


def test_spam_gets_no_mail_at_all(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    app.test_client().post("/api/forms/consultation", json={**consultation, "fax": "buy now"})
    deliver_all(app)
    assert jobs(app) == [] and smtp_sink.messages == []


def test_a_confirmation_to_anyone_but_the_lead_is_refused(consultation):
    form = load_schema(ROOT / "forms.yml").forms["consultation"]
    lead = fake_lead(consultation)
    job = {"kind": "confirm_visitor", "recipient": "someone-else@example.com", "lead_id": lead["id"],
           "message_id": "<x@fernleaf.example>"}
    with pytest.raises(mail.RenderError):
        compose(job, lead, form)


# --- injection ------------------------------------------------------------------------

def fake_lead(values: dict, **columns) -> dict:
    return {"id": "LeadId0123456789abcd", "form_id": "consultation", "spam": False,
            "received_at": datetime(2026, 11, 26, 16, 0, tzinfo=timezone.utc),
            "email": values.get("email"), "name": values.get("name"), "consent_version": "2026-11-01",
            "data": values, **{k: None for k in ATTRIBUTION_FIELDS}, **columns}


def compose(job: dict, lead: dict, form):
    return notices.compose(mail.environment(TEMPLATES / "email"), job, lead, form, history=lead_view.History(),
                        mail_from="Fernleaf Studio leads <leads@fernleaf.example>",
                        tz=ZoneInfo("Europe/London"), domain="fernleaf.example")


def parsed_tags(html: str) -> list[tuple[str, list]]:
    """Every element of an HTML document with its attributes, as a browser's parser sees them."""
    from html.parser import HTMLParser
    found = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: found.append((tag, attrs))
    parser.handle_startendtag = parser.handle_starttag
    parser.feed(html)
    parser.close()
    return found


def assert_safe(msg, job: dict) -> None:
    """Exactly our headers, one recipient, and no markup from the lead in the HTML."""
    raw = msg.as_bytes(policy=policy.SMTP)
    parsed = message_from_binary_file(__import__("io").BytesIO(raw), policy=policy.default)
    names = set(parsed.keys())
    assert names <= EXPECTED_HEADERS, names - EXPECTED_HEADERS
    assert parsed["To"] == job["recipient"] and len(parsed.get_all("Subject")) == 1
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    html = parsed.get_body(("html",)).get_content()
    tags = parsed_tags(html)
    assert not [(tag, name) for tag, attrs in tags for name, _ in attrs if name.startswith("on")]
    assert not {"script", "img"} & {tag for tag, _ in tags}
    assert ("https://attacker.example" not in
            [value for tag, attrs in tags if tag == "a" for name, value in attrs if name == "href"])
    assert 'href="javascript:' not in html


@pytest.mark.parametrize("field", ["name", "email", "phone", "company", "website", "service", "budget",
                                   "preferred_date", "preferred_time", "message",
                                   *ATTRIBUTION_FIELDS])
@pytest.mark.parametrize("attack", [HEADER_ATTACK, HTML_ATTACK, "javascript:alert(1)//\r\n.\r\nQUIT"])
def test_injection_in_any_field_changes_no_header_and_renders_no_html(field, attack, consultation):
    """Even a value that skipped validation cannot add a header or markup."""
    form = load_schema(ROOT / "forms.yml").forms["consultation"]
    values = {**consultation, "consent": True}
    columns = {}
    if field in ATTRIBUTION_FIELDS:
        columns[field] = attack
    else:
        values[field] = attack
    lead = fake_lead(values, **columns)
    for kind, to in (("notify_sales", "sales@fernleaf.example"), ("confirm_visitor", values["email"])):
        job = {"kind": kind, "recipient": to, "lead_id": lead["id"], "message_id": "<m.1@fernleaf.example>"}
        try:
            msg = compose(job, lead, form)
        except mail.RenderError:
            # An address that is no address: no Reply-To or To can be built, and
            # the job says so (the form refuses such input before it is stored).
            assert field == "email"
            continue
        assert_safe(msg, job)


@pytest.mark.parametrize("field", ["name", "email", "phone", "company", "website", "message",
                                   "page_url", "referrer", "first_utm_source", "last_utm_campaign"])
def test_injection_through_the_api_never_reaches_another_recipient(make_app, smtp_sink, consultation, field):
    app = make_app(mail_url=smtp_sink.url)
    payload = {**consultation, field: f"{HEADER_ATTACK}{HTML_ATTACK}"}
    response = app.test_client().post("/api/forms/consultation", json=payload)
    assert response.status_code in (201, 422)
    deliver_all(app)
    expected = {"sales@fernleaf.example", "shops@fernleaf.example", OWNER, "ada@analytical.example.com"}
    for received in smtp_sink.messages:
        assert set(received.recipients) <= expected
        assert received.message["Bcc"] is None and received.message["X-Injected"] is None
        html = received.message.get_body(("html",)).get_content()
        assert "<script" not in html and "<img" not in html
    if response.status_code == 201:
        assert len(smtp_sink.messages) == 4


# --- transports -------------------------------------------------------------------------

def test_file_transport_writes_messages_a_mail_client_opens(make_app, tmp_path, consultation):
    folder = tmp_path / "outgoing"
    app = make_app(mail_url=f"file://{folder}")
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    deliver_all(app)
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 4 and not list(folder.glob(".tmp-*"))
    for path in files:
        with path.open("rb") as handle:
            msg = message_from_binary_file(handle, policy=policy.default)
        assert not msg.defects and msg["X-Capture-Lead"] == lead_id
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
        assert b"\r\n" in path.read_bytes()  # RFC 5322 line endings
    confirmation = [p for p in files if ".confirm_" in p.name][0]
    with confirmation.open("rb") as handle:
        msg = message_from_binary_file(handle, policy=policy.default)
    [ics] = list(msg.iter_attachments())
    assert ics.get_filename() == "consultation.ics"
    assert Calendar.from_ical(ics.get_content()).walk("VEVENT")


def test_file_transport_resend_overwrites_the_same_file(tmp_path, consultation):
    transport = make_transport(parse_mail_url(f"file:{tmp_path}"), 5)
    msg = compose({"kind": "notify_sales", "recipient": "sales@fernleaf.example", "lead_id": "L1",
                   "message_id": "<lead.L1.0@fernleaf.example>"},
                  fake_lead(consultation), load_schema(ROOT / "forms.yml").forms["consultation"])
    transport.send(msg, "leads@fernleaf.example", "sales@fernleaf.example")
    transport.send(msg, "leads@fernleaf.example", "sales@fernleaf.example")
    assert [p.name for p in tmp_path.iterdir()] == ["lead.L1.0_fernleaf.example.eml"]


def test_relative_file_path_is_under_the_working_directory(tmp_path, monkeypatch, consultation):
    monkeypatch.chdir(tmp_path)
    transport = make_transport(parse_mail_url("file:var/mail"), 5)
    msg = compose({"kind": "notify_sales", "recipient": "sales@fernleaf.example", "lead_id": "L1",
                   "message_id": "<lead.L1.0@fernleaf.example>"},
                  fake_lead(consultation), load_schema(ROOT / "forms.yml").forms["consultation"])
    transport.send(msg, "leads@fernleaf.example", "sales@fernleaf.example")
    assert (Path(tmp_path) / "var/mail/lead.L1.0_fernleaf.example.eml").is_file()


def test_console_transport_prints_the_message(capsys, consultation):
    transport = make_transport(parse_mail_url("console:"), 5)
    msg = compose({"kind": "notify_sales", "recipient": "sales@fernleaf.example", "lead_id": "L1",
                   "message_id": "<lead.L1.0@fernleaf.example>"},
                  fake_lead(consultation), load_schema(ROOT / "forms.yml").forms["consultation"])
    transport.send(msg, "leads@fernleaf.example", "sales@fernleaf.example")
    assert "Message-ID: <lead.L1.0@fernleaf.example>" in capsys.readouterr().out


def test_smtp_login_is_used_when_the_url_has_credentials(smtp_sink, consultation):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    smtp_sink.stop()
    smtp_sink.controller = Controller(smtp_sink.handler, hostname="127.0.0.1", port=smtp_sink.port,
                                      authenticator=authenticator, auth_require_tls=False)
    smtp_sink.controller.start()
    transport = make_transport(parse_mail_url(f"smtp://robot:s%40cret@127.0.0.1:{smtp_sink.port}"), 5)
    msg = compose({"kind": "notify_sales", "recipient": "sales@fernleaf.example", "lead_id": "L1",
                   "message_id": "<lead.L1.0@fernleaf.example>"},
                  fake_lead(consultation), load_schema(ROOT / "forms.yml").forms["consultation"])
    transport.send(msg, "leads@fernleaf.example", "sales@fernleaf.example")
    transport.close()
    assert seen == [(b"robot", b"s@cret")] and len(smtp_sink.messages) == 1


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    import shutil
    import subprocess
    from tests.conftest import need_service
    if not shutil.which("openssl"):
        need_service("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return folder / "cert.pem", folder / "key.pem"


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_tls_transports_check_the_certificate_and_log_in(scheme, tls_files, smtp_sink, monkeypatch, consultation):
    import ssl
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from capture.delivery.transport import SendError
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(auth_data.login)
        return AuthResult(success=True)

    smtp_sink.stop()
    options = ({"tls_context": server_tls, "require_starttls": True} if scheme == "smtp+starttls"
               else {"ssl_context": server_tls, "auth_require_tls": False})  # aiosmtpd quirk
    smtp_sink.controller = Controller(smtp_sink.handler, hostname="127.0.0.1", port=smtp_sink.port,
                                      server_hostname="sink.localhost", authenticator=authenticator,
                                      **options)
    smtp_sink.controller.start()
    url = parse_mail_url(f"{scheme}://robot:pw@127.0.0.1:{smtp_sink.port}")
    msg = compose({"kind": "notify_sales", "recipient": "sales@fernleaf.example", "lead_id": "L1",
                   "message_id": "<lead.L1.0@fernleaf.example>"},
                  fake_lead(consultation), load_schema(ROOT / "forms.yml").forms["consultation"])
    untrusted = make_transport(url, 5)  # the system's CAs do not vouch for this certificate
    with pytest.raises(SendError) as refused:
        untrusted.send(msg, "leads@fernleaf.example", "sales@fernleaf.example")
    assert refused.value.unreachable and "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    transport = make_transport(url, 5)
    transport.send(msg, "leads@fernleaf.example", "sales@fernleaf.example")
    transport.close()
    assert logins == [b"robot"] and len(smtp_sink.messages) == 1


def test_an_internationalised_domain_is_sent_in_punycode(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = app.test_client().post("/api/forms/consultation",
                                     json={**consultation, "email": "ada@bücher.example"}).json["id"]
    deliver_all(app)
    found = by_kind(smtp_sink, lead_id)
    assert found["confirm_visitor"][0].recipients == ["ada@xn--bcher-kva.example"]
    assert found["notify_sales"][0].message["Reply-To"].addresses[0].addr_spec == "ada@xn--bcher-kva.example"


# --- encoded words (RFC 2047) from visitors are literal text ------------------------------

def _ew(charset: str, text: str, encoding: str = "b") -> str:
    raw = text.encode(charset)
    if encoding == "b":
        return f"=?{charset}?b?{__import__('base64').b64encode(raw).decode()}?="
    quoted = "".join(chr(b) if chr(b).isalnum() else f"={b:02X}" for b in raw)
    return f"=?{charset}?q?{quoted}?="


ENCODED_WORD_ATTACKS = [
    "=?utf-8?q?Ada=0D=0ACc:_cc-injected@evil.example=0D=0AX-Injected:_yes?=",
    "=?utf-8?b?RXZpbCA8ZXZpbEBleGFtcGxlLmNvbT4=?=",
    _ew("utf-8", "x\r\n\r\nContent-Type: text/html\r\n\r\n<h1>Invoice overdue</h1>", "q"),
    _ew("iso-8859-1", "Zoë\r\nBcc: victim@attacker.example"),
    _ew("us-ascii", "Evil <evil@example.com>, x", "q"),
    _ew("shift_jis", "山田\r\nX-Injected: yes"),
    "=?utf-8*en?q?Evil=20=3Cevil=40example=2Ecom=3E?=",
    'Ann "=?utf-8?q?=22_=3Cevil=40example.com=3E?=" Lee',
]


@pytest.mark.parametrize("form_id,field", [("consultation", "name"), ("contact", "name"),
                                           ("contact", "company")])
@pytest.mark.parametrize("attack", ENCODED_WORD_ATTACKS)
def test_an_encoded_word_from_a_visitor_is_literal_text_in_every_header(make_app, smtp_sink, consultation,
                                                                         form_id, field, attack):
    """No header, recipient or MIME part can be added; the reader sees exactly what was typed."""
    app = make_app(mail_url=smtp_sink.url)
    values = {**consultation, field: attack}
    response = app.test_client().post(f"/api/forms/{form_id}", json=values)
    assert response.status_code == 201, response.json
    deliver_all(app)
    received = by_kind(smtp_sink, response.json["id"])
    messages = received["notify_sales"] + received["confirm_visitor"]
    assert len(received["notify_sales"]) >= 1
    for got in messages:
        msg, kind = got.message, ("confirm_visitor" if got in received["confirm_visitor"] else "notify_sales")
        assert set(msg.keys()) <= EXPECTED_HEADERS, set(msg.keys()) - EXPECTED_HEADERS
        assert all(len(msg.get_all(name)) == 1 for name in msg.keys())
        assert [a.addr_spec for a in msg["To"].addresses] == got.recipients
        assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
        if kind == "notify_sales":
            assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["ada@analytical.example.com"]
            assert attack in rfc2047_text(got.raw, "Subject")
        if kind == "notify_sales" and field == "name":
            assert rfc2047_text(got.raw, "Reply-To").rsplit(" <", 1)[0] == attack
        parts = [p.get_content_type() for p in msg.walk()]
        expected = ["multipart/alternative", "text/plain", "text/html"]
        if kind == "confirm_visitor":
            expected = ["multipart/mixed", *expected, "text/calendar", "application/ics"]
        assert parts == expected


def rfc2047_text(raw: bytes, name: str) -> str:
    """A header as RFC 2047 says a reader shows it (the email package's modern parser
    keeps the space between two encoded words of a display name; the RFC drops it)."""
    folded = message_from_bytes(raw, policy=policy.compat32)[name]
    return str(make_header(decode_header(folded)))


@pytest.mark.parametrize("address", ["=?utf-8?q?evil=40attacker.example?=@example.com",
                                     "x=?utf-8?b?PGV2aWw+?=@example.com", "üser@example.com"])
def test_an_address_that_cannot_be_a_plain_header_is_refused_at_the_form(client, consultation, address):
    response = client.post("/api/forms/consultation", json={**consultation, "email": address})
    assert response.status_code == 422
    assert "email" in response.json["errors"]


def test_a_reply_to_that_cannot_be_built_is_an_error_not_a_silent_gap(consultation):
    """A stored address with a non-ASCII local part (from before the form refused it)."""
    form = load_schema(ROOT / "forms.yml").forms["consultation"]
    lead = fake_lead({**consultation, "email": "üser@example.com"})
    job = {"kind": "notify_sales", "recipient": "sales@fernleaf.example", "lead_id": lead["id"],
           "message_id": "<m.1@fernleaf.example>"}
    with pytest.raises(mail.RenderError, match="Reply-To"):
        compose(job, lead, form)


def test_the_asked_time_is_read_with_the_forms_own_field_names_and_the_consultation_length(tmp_path):
    """forms.yml's booking.slot_field and replaces name the fields; sales.yml's length is the picked time's."""
    text = (ROOT / "forms.yml").read_text().replace("preferred_date", "day_wanted").replace(
        "slot_field: slot", "slot_field: picked")
    (tmp_path / "forms.yml").write_text(text)
    form = load_schema(tmp_path / "forms.yml").forms["consultation"]
    tz = ZoneInfo("Europe/London")
    picked = lead_view.requested_slot(form, {"picked": "2026-12-02T10:00:00+00:00"}, tz, timedelta(minutes=45))
    assert (picked["start"].hour, picked["end"] - picked["start"]) == (10, timedelta(minutes=45))
    asked = lead_view.requested_slot(form, {"day_wanted": "2026-12-02", "preferred_time": "09:00-12:00"}, tz, None)
    assert (asked["start"].hour, asked["end"].hour) == (9, 12)
    assert lead_view.requested_slot(form, {"slot": "2026-12-02T10:00:00+00:00"}, tz, timedelta(minutes=45)) is None
    assert lead_view.requested_slot(form, {"picked": "2026-12-02T10:00:00+00:00"}, tz, None) is None  # nothing bookable


# --- property: whatever the form accepts, both messages can be built and sent ------------------

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st  # noqa: E402

from capture.schema.validation import clean_attribution, validate_submission  # noqa: E402
from capture.pipeline import lead_view, notices

TODAY = date(2026, 12, 9)  # a Wednesday; the day the generated submissions are validated on

SCHEMA = load_schema(ROOT / "forms.yml")
# Any character at all (surrogates and controls included), weighted towards those that
# have broken mail before: header syntax, line breaks, encodings, invisible and bidi characters.
NASTY = ["\ud800", "\udfff", "\x00", "\x1b", "\x85", "\x9b", "\u202e", "\u2066", "\u2028", "\t",
         "\r", "\n", "=?", "?=", "=?utf-8?q?", "<", ">", '"', "\\", ",", ";", ":", "@", " ", "\u200b",
         "\u200d", "\ufeff", "é", "山", "\U0001F600", "\U000E0041"]
ANY_PIECE = st.characters(codec=None, exclude_categories=()) | st.sampled_from(NASTY)
ANY_TEXT = (st.lists(ANY_PIECE, max_size=60).map("".join)
            | st.sampled_from(ENCODED_WORD_ATTACKS + [HEADER_ATTACK]))
ANY_VALUE = ANY_TEXT | st.integers() | st.booleans() | st.none() | st.floats()


def valid_values(form_id: str) -> dict:
    day = TODAY.isoformat()
    return {"consultation": {"name": "Ada", "email": "ada@analytical.example.com", "service": "ecommerce",
                             "meeting_kind": "video",
                             "budget": "5k-10k", "preferred_date": day, "preferred_time": "09:00-12:00",
                             "consent": True},
            "contact": {"name": "Ada", "email": "ada@analytical.example.com", "message": "Hi",
                        "consent": True}}[form_id]


@st.composite
def submissions(draw):
    form = SCHEMA.forms[draw(st.sampled_from(sorted(SCHEMA.forms)))]
    names = [f.name for f in form.fields] + list(ATTRIBUTION_FIELDS) + [TIME_ON_FORM]
    if form.booking:
        names.append(form.booking.slot_field)
    changed = draw(st.dictionaries(st.sampled_from(names), ANY_VALUE, max_size=4))
    if form.booking and draw(st.booleans()):  # a time of any year in any zone, as a picked slot
        changed[form.booking.slot_field] = draw(st.datetimes(timezones=st.timezones())).isoformat()
    return form, {**valid_values(form.id), **changed}


def check_messages(lead: dict, form) -> None:
    """Both messages build, serialise for SMTP and parse back with exactly our headers."""
    jobs_ = [("notify_sales", form.recipients(lead["data"])[0])]
    if form.confirmation:
        jobs_.append(("confirm_visitor", lead["email"]))
    for kind, to in jobs_:
        job = {"kind": kind, "recipient": to, "lead_id": lead["id"], "message_id": "<m.1@fernleaf.example>"}
        raw = compose(job, lead, form).as_bytes(policy=policy.SMTP)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert set(parsed.keys()) <= EXPECTED_HEADERS
        assert [a.addr_spec for a in parsed["To"].addresses] == [to]
        if kind == "notify_sales":
            assert [a.addr_spec for a in parsed["Reply-To"].addresses] == [lead["email"]]


@pytest.mark.slow
@hypothesis_settings(max_examples=300, deadline=None)
@given(submissions())
def test_every_accepted_submission_can_be_mailed(submission):
    form, data = submission
    values, errors = validate_submission(form, data, today=TODAY)
    if errors:
        return
    lead = fake_lead(values, form_id=form.id, **clean_attribution(data))
    check_messages(lead, form)


@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(submission=submissions())
def test_every_stored_lead_can_be_mailed(app, submission):
    """Through the API and the database (SQLite and PostgreSQL) and back: nothing stored is unmailable."""
    from capture.db.store import get_lead
    form, data = submission
    response = app.test_client().post(f"/api/forms/{form.id}", json=data)
    assert response.status_code in (201, 409, 422), response.get_data(as_text=True)
    if response.status_code == 201:
        check_messages(get_lead(app.extensions["capture"].engine, response.json["id"]), form)
