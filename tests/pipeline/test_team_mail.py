"""Team emails that fit the lead's state: heading and subject, the team's voice, the buttons that make
sense now (the main one first), human dates, and the new owner's email when a lead is reassigned.

Messages are read back from the SMTP sink and parsed with the `email` package, as a mail client would.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from capture.booking import appointments
from capture.core import formatting
from capture.core.clock import utcnow
from capture.db.models import outbox
from capture.db.store import get_lead
from capture.delivery.registry import Kind
from capture.delivery.worker import Worker
from capture.pipeline import stages, team_mail
from capture.pipeline.stages import Change
from capture.schema.forms import load_schema
from tests.conftest import ROOT
from tests.delivery.test_email_links import every_kind_of_email  # noqa: F401  (fixture)
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)

LONDON = ZoneInfo("Europe/London")
MAYA, TOM = "maya@fernleaf.example", "tom@fernleaf.example"
SALES_INBOX = "sales@fernleaf.example"
TEAM_DOMAIN = "@fernleaf.example"
# A stored or sent moment written the machine's way: 2026-12-04T09:12:00Z, 2026-12-04 09:12:00+00:00.
RAW_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
LABELS = team_mail.LABELS
ACTION_LINE = re.compile(r"^(?:Next step: |  )(.+?): https?://\S+\r?$", re.M)


def ext(app):
    return app.extensions["capture"]


def deliver(app) -> None:
    Worker(ext(app)).run_once()


def mail_to(sink, lead_id: str, recipient: str, kind: str = "notify_sales"):
    """The one message of `kind` about the lead that reached `recipient`, parsed."""
    found = [m.message for m in sink.messages if m.message["X-Capture-Lead"] == lead_id
             and m.recipients == [recipient] and _kind_of(m.message) == kind]
    assert len(found) == 1, [m.message["Subject"] for m in sink.messages]
    return found[0]


def _kind_of(message) -> str:
    mid = message["Message-ID"]
    if ".assign-" in mid:
        return "lead_reassigned"
    return "confirm_visitor" if ".confirm@" in mid else "notify_sales"


def buttons(message) -> list[str]:
    """The action labels of the plain-text part, in order (the main one first)."""
    return ACTION_LINE.findall(message.get_body(("plain",)).get_content())


def html_buttons(message) -> list[tuple[str, str]]:
    """(label, style) of every button in the HTML part, in order."""
    html = message.get_body(("html",)).get_content()
    return [(label, style) for style, label in
            re.findall(r'<a href="[^"]+/(?:actions|desk/leads)/[^"]+" style="([^"]+)">([^<]+)</a>', html)]


def slots(client) -> list[dict]:
    found = client.get("/api/slots?form=consultation&days=21").json["slots"]
    assert len(found) >= 2, "the test needs free consultation times"
    return found


# --- the state, heading and buttons, without a database ----------------------------------

@pytest.fixture(scope="module")
def forms():
    return load_schema(ROOT / "forms.yml").forms


def lead(**columns) -> dict:
    return {"id": "LeadId0123456789abcd", "status": "new", "name": "Ada Lovelace",
            "data": {"name": "Ada Lovelace", "preferred_date": "2026-12-08", "preferred_time": "14:00-17:30"},
            **columns}


def booking(status: str = "booked", host: str = MAYA, start=datetime(2026, 12, 8, 11, 0, tzinfo=timezone.utc)):
    return {"status": status, "host": host, "starts_at": start, "ends_at": start + timedelta(minutes=30)}


NOW = datetime(2026, 12, 5, 10, 0, tzinfo=timezone.utc)


def test_a_booked_call_is_headed_with_its_short_time_and_host_never_as_a_new_request(forms):
    said = team_mail.situation(lead(status="consultation"), forms["consultation"], booking(), host_name="Maya Patel",
                               recipient=SALES_INBOX, tz=LONDON, slot=None, now=NOW)
    assert said.heading == "Consultation booked: Tue 8 Dec 11:00 with Maya"
    assert said.lead_in == "Ada booked a consultation for Tue 8 Dec 2026, 11:00 GMT: Maya hosts it."
    assert said.actions == (team_mail.OPEN, "lost")
    to_host = team_mail.situation(lead(status="consultation"), forms["consultation"], booking(),
                                  host_name="Maya Patel", recipient=MAYA.upper(), tz=LONDON, slot=None, now=NOW)
    assert to_host.heading == "Consultation booked: Tue 8 Dec 11:00 with you" and "you host it" in to_host.lead_in
    after = team_mail.situation(lead(status="consultation"), forms["consultation"], booking(), host_name="Maya Patel",
                                recipient=MAYA, tz=LONDON, slot=None, now=datetime(2026, 12, 8, 12, tzinfo=timezone.utc))
    assert after.actions == ("won", "lost", team_mail.OPEN) and "How did it go?" in after.lead_in


def test_a_request_says_what_they_want_and_offers_to_book_it_first(forms):
    form = forms["consultation"]
    slot = {"start": datetime(2026, 12, 8, 14, tzinfo=LONDON), "end": datetime(2026, 12, 8, 17, 30, tzinfo=LONDON)}
    said = team_mail.situation(lead(), form, None, host_name="", recipient=MAYA, tz=LONDON, slot=slot, now=NOW)
    assert said.heading == "Consultation requested: wants Tue 8 Dec afternoon"
    assert said.actions == ("book", "contacted", team_mail.OPEN, "lost")
    picked = lead(data={"name": "Ada", "slot": "2026-12-08T11:00:00+00:00"})
    slot = {"start": datetime(2026, 12, 8, 11, tzinfo=timezone.utc), "end": datetime(2026, 12, 8, 11, 30, tzinfo=timezone.utc)}
    assert team_mail.situation(picked, form, None, host_name="", recipient=MAYA, tz=LONDON, slot=slot,
                               now=NOW).heading == "Consultation requested: wants Tue 8 Dec 11:00"


@pytest.mark.parametrize("status, actions", [
    ("new", ("contacted", team_mail.OPEN, "lost")),
    ("contacted", ("consultation", team_mail.OPEN, "lost")),
    ("proposal", ("won", team_mail.OPEN, "lost")),
    ("won", (team_mail.OPEN,)),
    ("lost", (team_mail.OPEN,)),
])
def test_an_enquirys_buttons_follow_its_status(forms, status, actions):
    said = team_mail.situation(lead(status=status, data={"name": "Grace Hopper"}), forms["contact"], None,
                               host_name="", recipient=MAYA, tz=LONDON, slot=None, now=NOW)
    assert (said.state, said.heading, said.actions) == (team_mail.ENQUIRY, "Contact enquiry", actions)
    assert said.lead_in.startswith("Grace wrote to us through the form")


def test_a_cancelled_call_says_so_and_offers_no_booking_of_the_old_time(forms):
    slot = {"start": datetime(2026, 12, 8, 11, tzinfo=timezone.utc), "end": datetime(2026, 12, 8, 11, 30, tzinfo=timezone.utc)}
    said = team_mail.situation(lead(status="contacted"), forms["consultation"], booking("cancelled"),
                               host_name="Maya Patel", recipient=MAYA, tz=LONDON, slot=slot, now=NOW)
    assert said.heading == "Consultation cancelled: Tue 8 Dec 11:00"
    assert said.actions == (team_mail.OPEN, "lost") and "is cancelled" in said.lead_in


def test_links_keep_the_order_and_mark_the_main_one(forms):
    found = team_mail.links(("book", "contacted", team_mail.OPEN), secret="s" * 32, base_url="https://x.example",
                            lead_id="LeadId0123456789abcd", recipient=MAYA)
    assert [(link["label"], link["main"]) for link in found] == [
        ("Book the time they asked for", True), ("Mark as contacted", False), ("Open the lead in the desk", False)]
    assert found[2]["url"] == "https://x.example/desk/leads/LeadId0123456789abcd"
    assert all("/actions/" in link["url"] for link in found[:2])


# --- the notification as sent, per state ---------------------------------------------------

def test_an_enquiry_mail_speaks_to_the_team_with_contacted_as_its_main_button(make_app, smtp_sink):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = app.test_client().post("/api/forms/contact", json={
        "name": "Grace Hopper", "email": "grace@navy.example.com", "company": "Navy",
        "message": "Hello", "consent": True}).json["id"]
    deliver(app)
    msg = mail_to(smtp_sink, lead_id, "hello@fernleaf.example")
    assert msg["Subject"] == "Contact enquiry: Grace Hopper, Navy"
    assert buttons(msg) == ["Mark as contacted", "Open the lead in the desk", "Mark as lost"]
    html = msg.get_body(("html",)).get_content()
    assert ">Contact enquiry</p>" in html and "We will" not in html


def test_a_request_is_headed_with_the_time_asked_and_booking_it_is_the_main_button(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = app.test_client().post("/api/forms/consultation",
                                     json={**consultation, "preferred_time": "14:00-17:30"}).json["id"]
    deliver(app)
    msg = mail_to(smtp_sink, lead_id, SALES_INBOX)
    day = datetime.fromisoformat(consultation["preferred_date"])
    heading = f"Consultation requested: wants {formatting.short_weekday(day, year=False)} afternoon"
    assert msg["Subject"] == f"{heading} — Ada Lovelace, E-commerce site"
    assert buttons(msg) == ["Book the time they asked for", "Mark as contacted", "Open the lead in the desk",
                            "Mark as lost"]
    shown = html_buttons(msg)
    assert shown[0][0] == "Book the time they asked for" and "background:#2f5d3a" in shown[0][1]
    assert all("background:#2f5d3a" not in style for _label, style in shown[1:])  # one primary button
    assert "NEW CONSULTATION REQUEST" not in msg.get_body(("plain",)).get_content().upper().replace("REQUESTED", "")


def test_a_booked_call_is_headed_booked_with_no_contacted_button(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    client = app.test_client()
    slot = slots(client)[0]
    lead_id = client.post("/api/forms/consultation", json={**consultation, "slot": slot["start"]}).json["id"]
    deliver(app)
    made = appointments.current(ext(app).engine, lead_id)
    host = ext(app).sales.member(made["host"])
    when = formatting.short_moment(made["starts_at"], LONDON)
    to_team, to_host = mail_to(smtp_sink, lead_id, SALES_INBOX), mail_to(smtp_sink, lead_id, host.email)
    assert to_team["Subject"] == f"Consultation booked: {when} with {host.name.split()[0]} — Ada Lovelace, E-commerce site"
    assert str(to_host["Subject"]).startswith(f"Consultation booked: {when} with you — ")
    for msg in (to_team, to_host):
        assert buttons(msg) == ["Open the lead in the desk", "Mark as lost"]
        text = msg.get_body(("plain",)).get_content()
        assert "Mark as contacted" not in text and "Book the time" not in text
        assert "we call you" not in text.lower() and "have your phone to hand" not in text  # the visitor's lines
        assert "How shall we meet? Phone call\r\n" in text
        assert "Call Ada Lovelace on +44 20 7946 0018." in text  # the host's


def test_a_call_cancelled_before_the_mail_went_is_headed_cancelled(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    client, cap = app.test_client(), ext(app)
    lead_id = client.post("/api/forms/consultation", json={**consultation, "slot": slots(client)[0]["start"]}).json["id"]
    made = appointments.current(cap.engine, lead_id)
    appointments.cancel(cap.engine, cap.sales, made["id"], "visitor", cap.mail_domain, utcnow())
    deliver(app)
    msg = mail_to(smtp_sink, lead_id, SALES_INBOX)
    assert str(msg["Subject"]).startswith(
        f"Consultation cancelled: {formatting.short_moment(made['starts_at'], LONDON)} — Ada Lovelace")
    assert buttons(msg) == ["Open the lead in the desk", "Mark as lost"]


# --- dates -------------------------------------------------------------------------------

def test_no_team_mail_shows_a_raw_timestamp(every_kind_of_email):  # noqa: F811
    _app, found = every_kind_of_email
    team = [(kind, m) for kind, messages in found.items() for m in messages if str(m["To"]).endswith(TEAM_DOMAIN)]
    kinds = {kind for kind, _m in team}
    assert {"notify_sales", "remind_owner", "escalate", "lead_reassigned", "weekly_digest", "booking_update"} <= kinds
    for kind, message in team:
        assert not RAW_TIMESTAMP.search(str(message["Subject"])), (kind, message["Subject"])
        for part in message.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                raw = RAW_TIMESTAMP.search(part.get_content())
                assert raw is None, (kind, part.get_content_type(), raw and raw.group())


def test_the_browsers_first_visit_time_is_shown_in_the_business_zone(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = app.test_client().post("/api/forms/consultation", json={
        **consultation, "first_seen": "2026-07-04T09:12:00Z"}).json["id"]
    deliver(app)
    text = mail_to(smtp_sink, lead_id, SALES_INBOX).get_body(("plain",)).get_content()
    assert "First visit: Sat 4 Jul 2026, 10:12 BST" in text and "2026-07-04T" not in text


# --- reassignment ------------------------------------------------------------------------

def reassigned_jobs(app, lead_id: str) -> list[dict]:
    with ext(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(
            outbox.c.lead_id == lead_id, outbox.c.kind == Kind.REASSIGNED).order_by(outbox.c.id)).mappings()]


def other_than(app, lead_id: str) -> tuple[str, str]:
    owner = get_lead(ext(app).engine, lead_id)["owner"]
    return owner, TOM if owner == MAYA else MAYA


def test_the_new_owner_is_emailed_the_lead_once_with_its_action_links(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    cap = ext(app)
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    owner, other = other_than(app, lead_id)
    stages.assign(cap.engine, cap.sales, lead_id, other, owner, cap.mail_domain)
    queued = reassigned_jobs(app, lead_id)  # in the change's own transaction: there once it returns
    assert [(j["recipient"], j["status"]) for j in queued] == [(other, "pending")]
    deliver(app)
    deliver(app)
    msg = mail_to(smtp_sink, lead_id, other, "lead_reassigned")
    giver = cap.sales.member(owner).name
    assert str(msg["Subject"]).startswith(f"{giver} gave you a lead: Ada Lovelace, E-commerce site — "
                                          "Consultation requested: wants ")
    text = msg.get_body(("plain",)).get_content()
    assert f"{giver} gave you this lead" in text and "Nobody has replied yet" in text
    assert buttons(msg)[0] == "Book the time they asked for" and "Mark as contacted" in buttons(msg)
    assert f"/desk/leads/{lead_id}" in text and "Ada Lovelace" in text
    assert [j["status"] for j in reassigned_jobs(app, lead_id)] == ["sent"]


def test_no_email_when_someone_takes_a_lead_themselves(app, client, consultation):
    cap = ext(app)
    lead_id = client.post("/api/forms/consultation", json=consultation).json["id"]
    owner, other = other_than(app, lead_id)
    assert stages.assign(cap.engine, cap.sales, lead_id, other, other.upper(), cap.mail_domain)["owner"] == other
    assert reassigned_jobs(app, lead_id) == []
    assert stages.assign(cap.engine, cap.sales, lead_id, other, owner, cap.mail_domain) is None  # already theirs
    assert reassigned_jobs(app, lead_id) == []


def test_a_lead_reassigned_again_before_the_mail_went_drops_the_first(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    cap = ext(app)
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    owner, other = other_than(app, lead_id)
    manager = "boss@fernleaf.example"
    stages.assign(cap.engine, cap.sales, lead_id, other, manager, cap.mail_domain)
    stages.assign(cap.engine, cap.sales, lead_id, owner, manager, cap.mail_domain)
    deliver(app)
    deliver(app)
    first, second = reassigned_jobs(app, lead_id)
    assert (first["recipient"], first["status"]) == (other, "dropped")
    assert "given to someone else again" in first["last_error"]
    assert (second["recipient"], second["status"]) == (owner, "sent")
    assert mail_to(smtp_sink, lead_id, owner, "lead_reassigned")["Subject"].startswith(f"{manager} gave you a lead")


def test_a_won_lead_handed_over_only_opens_in_the_desk(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    cap = ext(app)
    lead_id = app.test_client().post("/api/forms/consultation", json=consultation).json["id"]
    stages.change_status(cap.engine, cap.sales, lead_id, Change("won", value=480000), MAYA)
    owner, other = other_than(app, lead_id)
    stages.assign(cap.engine, cap.sales, lead_id, other, owner, cap.mail_domain)
    with cap.engine.begin() as conn:  # only the reassignment is wanted here
        conn.execute(update(outbox).where(outbox.c.lead_id == lead_id, outbox.c.kind != Kind.REASSIGNED)
                     .values(status="dropped"))
    deliver(app)
    msg = mail_to(smtp_sink, lead_id, other, "lead_reassigned")
    assert buttons(msg) == ["Open the lead in the desk"]
    assert "Nobody has replied yet" not in msg.get_body(("plain",)).get_content()
