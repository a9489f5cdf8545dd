"""Booking a consultation in the database (capture/booking/appointments.py) and through the API and pages.

Real SQLite and PostgreSQL; the race for one slot runs through gunicorn with
several workers; iCalendar attachments are parsed back with icalendar.
"""
from __future__ import annotations

import email
import email.policy
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import func, select, update

from capture.booking import appointments
from capture.core import tokens
from capture.core.clock import utcnow
from capture.db.models import bookings, leads, outbox
from capture.db.engine import make_engine
from capture.db.store import get_lead
from capture.delivery.worker import Worker
from capture.pipeline.stages import NoSuchLead
from tests.conftest import ROOT, TEST_SECRET
from tests.gunicorn_server import Gunicorn
from tests.smtp_sink import seven_bit_sink  # noqa: F401  (fixture)
from tests.desk.test_desk import CSRF
from tests.delivery.test_mail import assert_seven_bit, invitation_part
from tests.db.test_store import post_json, server_env

MAYA, TOM = "maya@fernleaf.example", "tom@fernleaf.example"
# Which slots are free depends on the day and hour: every test starts at the clock's Wednesday morning
# (the gunicorn server keeps the wall clock; its test compares nothing with this process's time).
pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def one_host(tmp_path) -> Path:
    """sales.yml with Maya as the only host: one booking fills a slot."""
    text = (ROOT / "sales.yml").read_text().replace(
        "  # hosts: default, everyone with the role host (Maya, then Tom)\n",
        f"  hosts: [{MAYA}]\n")
    assert f"hosts: [{MAYA}]" in text
    path = tmp_path / "sales.yml"
    path.write_text(text)
    return path


def ext(app):
    return app.extensions["capture"]


def visitor(n: int | str, slot: str, **more) -> dict:
    return {"name": f"Visitor {n}", "email": f"v{n}@example.com", "service": "business", "budget": "5k-10k",
            "meeting_kind": "phone", "phone": "+44 20 7946 0018",
            "consent": True, "slot": slot, "message": f"Our shop needs a new site ({n}).",
            "time_on_form": "60000", **more}


def first_slots(client, days: int = 7) -> list[dict]:
    response = client.get(f"/api/slots?form=consultation&days={days}")
    assert response.status_code == 200
    return response.json["slots"]


def booked_lead(make_app, one_host) -> tuple:
    """An app with Maya as the only host and one lead booked at the first free time."""
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = first_slots(client)[0]["start"]
    return app, client, slot, client.post("/api/forms/consultation", json=visitor(1, slot)).json["id"]


def count(app, table) -> int:
    with ext(app).engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def sent_mail(tmp_path) -> list:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((tmp_path / "mail").glob("*.eml"))]


def calendar_of(message) -> Calendar:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_content() if isinstance(part.get_content(), str)
                              else part.get_content().decode())


# --- GET /api/slots ------------------------------------------------------------------

def test_slots_are_free_times_in_utc_sorted_and_briefly_cacheable(client):
    response = client.get("/api/slots?form=consultation&days=5")
    body = response.json
    assert (body["timezone"], body["length_minutes"]) == ("Europe/London", 30)
    starts = [datetime.fromisoformat(s["start"]) for s in body["slots"]]
    assert starts and starts == sorted(starts)
    assert all(s.utcoffset() == timedelta(0) for s in starts)
    assert all(datetime.fromisoformat(s["end"]) - datetime.fromisoformat(s["start"]) == timedelta(minutes=30)
               for s in body["slots"])
    assert min(starts) > utcnow() + timedelta(hours=1)  # two working hours' notice at least one hour away
    assert response.headers["Cache-Control"] == "public, max-age=5"


@pytest.mark.parametrize("query, name", [
    ("form=contact", "form"), ("", "form"), ("form=consultation&from=tomorrow", "from"),
    ("form=consultation&days=0", "days"), ("form=consultation&days=22", "days"),
    ("form=consultation&days=x", "days"), ("form=consultation&from=2026-02-30", "from"),
])
def test_a_bad_parameter_is_a_400_naming_it(client, query, name):
    response = client.get(f"/api/slots?{query}")
    assert response.status_code == 400 and response.json["error"].startswith(f"{name}: ")


# --- booking with the lead -------------------------------------------------------------

def test_a_booked_slot_makes_a_lead_in_consultation_owned_by_its_host_and_leaves_the_picker(
        make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = first_slots(client)[0]
    response = client.post("/api/forms/consultation", json=visitor(1, slot["start"]))
    assert response.status_code == 201
    lead = get_lead(ext(app).engine, response.json["id"])
    assert (lead["status"], lead["owner"]) == ("consultation", MAYA)
    assert lead["first_contact_at"] == lead["received_at"]  # answered at once: speed to lead 0
    made = appointments.current(ext(app).engine, lead["id"])
    assert (made["host"], made["starts_at"].isoformat(), made["sequence"]) == (MAYA, slot["start"], 0)
    assert slot["start"] not in [s["start"] for s in first_slots(client)]
    # No reminders or escalations for a lead answered at once.
    with ext(app).engine.connect() as conn:
        kinds = {row.kind for row in conn.execute(select(outbox.c.kind).where(outbox.c.lead_id == lead["id"]))}
    assert not kinds & {"remind_owner", "escalate"}


def test_a_taken_slot_is_a_409_with_other_times_and_stores_nothing(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = first_slots(client)[0]["start"]
    assert client.post("/api/forms/consultation", json=visitor(1, slot)).status_code == 201
    before = (count(app, leads), count(app, bookings), count(app, outbox))
    response = client.post("/api/forms/consultation", json=visitor(2, slot))
    assert response.status_code == 409
    assert response.json["errors"] == {"slot": "That time was just taken. Please pick another."}
    offered = [s["start"] for s in response.json["slots"]]
    assert 1 <= len(offered) <= 5 and slot not in offered
    assert (count(app, leads), count(app, bookings), count(app, outbox)) == before


def test_two_hosts_take_the_same_slot_once_each(client):
    slot = first_slots(client)[0]["start"]
    answers = [client.post("/api/forms/consultation", json=visitor(n, slot)).status_code for n in range(3)]
    assert answers == [201, 201, 409]


def test_a_time_never_offered_is_refused_like_a_taken_one(client):
    today = utcnow().date()
    sunday = today + timedelta(days=(6 - today.weekday()) or 7)
    response = client.post("/api/forms/consultation", json=visitor(1, f"{sunday}T10:00:00+00:00"))
    assert response.status_code == 409


@pytest.mark.parametrize("slot", ["tomorrow", "2026-12-01T09:00:00", "1" * 50, "0001-01-01T00:00:00+05:00",
                                  "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
                                  "2026-W50-1T10:00:00+00:00", "2026-341T10:00:00+00:00"])  # week, ordinal dates
def test_a_slot_that_is_no_time_is_a_422(client, slot):
    response = client.post("/api/forms/consultation", json=visitor(1, slot))
    assert response.status_code == 422 and response.json["errors"] == {"slot": "Please pick one of the times offered."}


def test_without_a_slot_the_request_path_still_needs_a_preferred_date(client):
    response = client.post("/api/forms/consultation", json={**visitor(1, ""), "slot": ""})
    assert response.status_code == 422 and set(response.json["errors"]) == {"preferred_date", "preferred_time"}


def test_spam_with_a_slot_books_nothing(app, client):
    slot = first_slots(client)[0]["start"]
    response = client.post("/api/forms/consultation", json={**visitor(1, slot), "fax": "bot"})
    assert response.status_code == 201
    assert get_lead(ext(app).engine, response.json["id"])["spam"] is True and count(app, bookings) == 0


@pytest.mark.slow
def test_twenty_racing_for_one_slot_through_gunicorn_one_wins_the_rest_get_409(database_url, tmp_path, one_host):
    server = Gunicorn({**server_env(database_url, tmp_path), "CAPTURE_SALES": str(one_host)}, workers=4)
    try:
        status, body = _get_json(f"{server.url}/api/slots?form=consultation&days=7")
        slot = body["slots"][0]["start"]
        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(lambda n: post_json(f"{server.url}/api/forms/consultation",
                                                        visitor(f"race{n}", slot)), range(20)))
    finally:
        server.stop()
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 19
    engine = make_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(leads)).scalar()
        booked = conn.execute(select(bookings.c.lead_id, bookings.c.status)).all()
    engine.dispose()
    winner = next(body["id"] for status, body in answers if status == 201)
    assert stored == 1 and booked == [(winner, "booked")]


def _get_json(url: str):
    import json
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, json.loads(response.read())


# --- the invitations, the visitor's links, the reminder ---------------------------------

def test_the_confirmation_and_the_hosts_notification_carry_the_invitation(make_app, tmp_path, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = first_slots(client)[0]
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slot["start"])).json["id"]
    Worker(ext(app)).run_once()
    mail = {m["To"]: m for m in sent_mail(tmp_path)}
    confirmation, host = mail["v1@example.com"], mail[MAYA]
    assert str(confirmation["Subject"]).startswith("Your free consultation is booked: ")
    for message, partstat in ((confirmation, "ACCEPTED"), (host, "ACCEPTED")):
        cal = calendar_of(message)
        [event] = cal.walk("VEVENT")
        assert (str(cal["METHOD"]), str(event["STATUS"]), int(event["SEQUENCE"])) == ("REQUEST", "CONFIRMED", 0)
        assert event["DTSTART"].dt.isoformat() == slot["start"] and str(event["ORGANIZER"]) == f"mailto:{MAYA}"
        assert str(event["ATTENDEE"]) == "mailto:v1@example.com"
        made = appointments.current(ext(app).engine, lead_id)
        assert str(event["UID"]) == f"booking-{made['id']}@fernleaf.example"
    assert "sales@fernleaf.example" in mail and not [p for p in mail["sales@fernleaf.example"].walk()
                                                     if p.get_content_type() == "text/calendar"]
    text = confirmation.get_body(("plain",)).get_content()
    assert re.search(r"^Cancel the consultation: http://127\.0\.0\.1:8000/actions/booking/\S+?\r?$", text, re.M)
    assert re.search(r"^Change the time: http://127\.0\.0\.1:8000/actions/booking/\S+?\r?$", text, re.M)


def link(text: str, label: str) -> str:
    return re.search(rf"^{label}: http://127\.0\.0\.1:8000(/actions/booking/\S+?)\r?$", text, re.M)[1]


def test_the_visitor_cancels_from_the_email_the_slot_is_free_again_and_both_get_a_cancel(
        make_app, tmp_path, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    Worker(ext(app)).run_once()
    [confirmation] = [m for m in sent_mail(tmp_path) if m["To"] == "v1@example.com"]
    path = link(confirmation.get_body(("plain",)).get_content(), "Cancel the consultation")
    page = client.get(path)  # what a mail scanner does: nothing changes
    assert page.status_code == 200 and "Cancel the consultation" in page.get_data(as_text=True)
    assert appointments.current(ext(app).engine, lead_id) is not None
    assert client.post(path, data={}).status_code == 400  # no CSRF token: nothing happens
    token = CSRF.search(page.get_data(as_text=True))[1]
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "Your consultation is cancelled" in done.get_data(as_text=True)
    assert appointments.current(ext(app).engine, lead_id) is None
    assert slot in [s["start"] for s in first_slots(client)]
    again = client.post(path, data={"csrf_token": token})
    assert again.status_code == 410  # a second click changes nothing
    Worker(ext(app)).run_once()
    cancels = [m for m in sent_mail(tmp_path) if str(m["Subject"]).startswith(("Cancelled", "Consultation cancelled"))]
    assert sorted(m["To"] for m in cancels) == [MAYA, "v1@example.com"]
    for message in cancels:
        cal = calendar_of(message)
        [event] = cal.walk("VEVENT")
        assert (str(cal["METHOD"]), str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCEL", "CANCELLED", 1)


def test_the_visitor_moves_the_time_in_one_step_and_gets_the_same_uid_with_a_higher_sequence(
        make_app, tmp_path, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slots = first_slots(client, days=14)
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"])).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    path = "/actions/booking/" + tokens.booking_token(TEST_SECRET, made["id"], "move", "v1@example.com")
    page = client.get(path).get_data(as_text=True)
    target = slots[-1]["start"]
    # The radios carry the API's start in UTC, written with a Z (the picker's contract).
    assert f'value="{target.replace("+00:00", "Z")}"' in page and "times in London time" in page
    token = CSRF.search(page)[1]
    done = client.post(path, data={"csrf_token": token, "slot": target})
    assert done.status_code == 200 and "Your consultation has a new time" in done.get_data(as_text=True)
    moved = appointments.current(ext(app).engine, lead_id)
    assert (moved["id"], moved["starts_at"].isoformat(), moved["sequence"]) == (made["id"], target, 1)
    assert slots[0]["start"] in [s["start"] for s in first_slots(client, days=14)]
    Worker(ext(app)).run_once()
    [update_mail] = [m for m in sent_mail(tmp_path) if str(m["Subject"]).startswith("New time")]
    [event] = calendar_of(update_mail).walk("VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (f"booking-{made['id']}@fernleaf.example", 1)
    # A taken time is reported, not overwritten.
    client.post("/api/forms/consultation", json=visitor(2, slots[1]["start"]))
    clash = client.post(path, data={"csrf_token": token, "slot": slots[1]["start"]})
    assert clash.status_code == 409 and "just taken" in clash.get_data(as_text=True)
    assert appointments.current(ext(app).engine, lead_id)["starts_at"].isoformat() == target


def test_every_booking_message_is_an_inline_invitation_that_a_7_bit_server_takes(
        make_app, seven_bit_sink, one_host):
    """Gmail and Outlook act on an inline text/calendar alternative with its method; no 8-bit part."""
    app = make_app(sales=str(one_host), mail_url=seven_bit_sink.url)
    client = app.test_client()
    slots = first_slots(client, days=14)
    # A name with accents: the host's copy names the visitor, so its text is not ASCII.
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"],
                                                                  name="Zoë Ångström")).json["id"]
    Worker(ext(app)).run_once()
    made = appointments.current(ext(app).engine, lead_id)
    appointments.move(ext(app).engine, ext(app).sales, made["id"], datetime.fromisoformat(slots[-1]["start"]),
                      "visitor", "fernleaf.example", utcnow())
    Worker(ext(app)).run_once()
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], "visitor", "fernleaf.example", utcnow())
    Worker(ext(app)).run_once()
    with ext(app).engine.connect() as conn:
        sent = conn.execute(select(outbox.c.kind, outbox.c.recipient, outbox.c.status)
                            .where(outbox.c.kind != "remind_visitor")).all()
    assert {row.status for row in sent} == {"sent"}

    def about(to: str, what: str):
        return [r for r in seven_bit_sink.messages if r.recipients == [to] and what in r.message["Message-ID"]]

    cases = [(MAYA, f"lead.{lead_id}.", "REQUEST"), ("v1@example.com", ".confirm@", "REQUEST")]
    for to, who in ((MAYA, "host"), ("v1@example.com", "visitor")):
        cases += [(to, f"{made['id']}.1.{who}@", "REQUEST"), (to, f"{made['id']}.2.{who}@", "CANCEL")]
    for to, what, method in cases:
        [received] = about(to, what)
        invitation_part(received.message, method)
        assert_seven_bit(received)
    [inbox] = about("sales@fernleaf.example", f"lead.{lead_id}.")
    assert inbox.message.get_content_type() == "multipart/alternative"  # the facts, no invitation
    assert_seven_bit(inbox)


def test_booking_links_refuse_tampering_and_other_bookings(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    good = tokens.booking_token(TEST_SECRET, made["id"], "cancel", "v1@example.com")
    assert client.get(f"/actions/booking/{good[:-2]}xx").status_code == 404
    wrong_person = tokens.booking_token(TEST_SECRET, made["id"], "cancel", "eve@example.com")
    assert client.get(f"/actions/booking/{wrong_person}").status_code == 404
    other_secret = tokens.booking_token("another-secret-0123456789abcdef", made["id"], "cancel", "v1@example.com")
    assert client.get(f"/actions/booking/{other_secret}").status_code == 404
    # A sales action token is no booking token.
    sales = tokens.action_token(TEST_SECRET, lead_id, "contacted", MAYA)
    assert client.get(f"/actions/booking/{sales}").status_code == 404
    assert appointments.current(ext(app).engine, lead_id) is not None


def test_the_reminder_comes_a_day_before_and_not_for_a_time_moved_away(make_app, tmp_path, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slots = first_slots(client, days=14)
    far = [s for s in slots if datetime.fromisoformat(s["start"]) > utcnow() + timedelta(days=2)]
    lead_id = client.post("/api/forms/consultation", json=visitor(1, far[0]["start"])).json["id"]
    with ext(app).engine.connect() as conn:
        [reminder] = conn.execute(select(outbox).where(outbox.c.kind == "remind_visitor")).mappings().all()
    assert reminder["available_at"] == datetime.fromisoformat(far[0]["start"]) - timedelta(hours=24)
    made = appointments.current(ext(app).engine, lead_id)
    appointments.move(ext(app).engine, ext(app).sales, made["id"], datetime.fromisoformat(far[1]["start"]),
                      "visitor", "fernleaf.example", utcnow())
    with ext(app).engine.begin() as conn:  # time passes: every reminder is due
        conn.execute(update(outbox).where(outbox.c.kind == "remind_visitor").values(available_at=utcnow()))
    Worker(ext(app)).run_once()
    with ext(app).engine.connect() as conn:
        states = sorted((row.ref.split(":")[1], row.status) for row in
                        conn.execute(select(outbox.c.ref, outbox.c.status).where(outbox.c.kind == "remind_visitor")))
    assert states == [("0", "dropped"), ("1", "sent")]
    [sent] = [m for m in sent_mail(tmp_path) if str(m["Subject"]).startswith("Tomorrow")]
    assert sent["To"] == "v1@example.com"


def test_no_reminder_once_the_meeting_has_started(make_app, tmp_path, one_host, monkeypatch):
    """An outage or mail retries carry the day-before reminder past the meeting: it is not sent."""
    app = make_app(sales=str(one_host))
    client = app.test_client()
    far = [s for s in first_slots(client, days=14)
           if datetime.fromisoformat(s["start"]) > utcnow() + timedelta(days=2)]
    client.post("/api/forms/consultation", json=visitor(1, far[0]["start"]))
    start = datetime.fromisoformat(far[0]["start"])
    with ext(app).engine.begin() as conn:  # the worker was down: the reminder is still waiting
        conn.execute(update(outbox).where(outbox.c.kind != "remind_visitor").values(status="sent"))
    monkeypatch.setattr("capture.delivery.worker.utcnow", lambda: start + timedelta(minutes=1))
    monkeypatch.setattr("capture.delivery.outbox.utcnow", lambda: start + timedelta(minutes=1))
    Worker(ext(app)).run_once()
    with ext(app).engine.connect() as conn:
        state = conn.execute(select(outbox.c.status, outbox.c.last_error)
                             .where(outbox.c.kind == "remind_visitor")).one()
    assert state.status == "dropped" and "meeting had started" in state.last_error
    assert not [m for m in sent_mail(tmp_path) if str(m["Subject"]).startswith("Tomorrow")]


# --- sales book the time a visitor asked for ---------------------------------------------

def test_sales_book_the_requested_time_from_the_email_and_a_clash_is_reported(make_app, tmp_path, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = datetime.fromisoformat(first_slots(client, days=14)[-1]["start"])
    local = slot.astimezone(ext(app).settings.timezone)
    window = next(w for w in ("09:00-12:00", "12:00-14:00", "14:00-17:30")
                  if w[:5] <= f"{local:%H:%M}" < w[6:])
    request = {**visitor(1, ""), "slot": "", "preferred_date": local.date().isoformat(), "preferred_time": window}
    lead_id = client.post("/api/forms/consultation", json=request).json["id"]
    Worker(ext(app)).run_once()
    [note] = [m for m in sent_mail(tmp_path) if m["To"] == MAYA]
    text = note.get_body(("plain",)).get_content()
    path = re.search(r"^(?:Next step: )?Book the time they asked for: http://127\.0\.0\.1:8000(/actions/\S+?)\r?$", text, re.M)[1]
    page = client.get(path).get_data(as_text=True)
    assert f'value="{slot:%Y-%m-%dT%H:%M:%SZ}"' in page and get_lead(ext(app).engine, lead_id)["status"] == "new"
    token = CSRF.search(page)[1]
    # Someone books that time on the website first: the clash is reported, nothing overwritten.
    client.post("/api/forms/consultation", json=visitor(2, slot.isoformat()))
    clash = client.post(path, data={"csrf_token": token, "slot": slot.isoformat()})
    assert clash.status_code == 409 and "Nothing was overwritten" in clash.get_data(as_text=True)
    other = first_slots(client, days=14)[0]["start"]
    done = client.post(path, data={"csrf_token": token, "slot": other})
    assert done.status_code == 200 and "Booked" in done.get_data(as_text=True)
    lead = get_lead(ext(app).engine, lead_id)
    assert (lead["status"], lead["owner"]) == ("consultation", MAYA)
    assert appointments.current(ext(app).engine, lead_id)["starts_at"].isoformat() == other


# --- privacy and spam ------------------------------------------------------------------

def test_erasing_a_person_cancels_their_future_meeting_and_export_lists_it(make_app, one_host):
    from capture.privacy import erasure
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    exported = erasure.access(ext(app).engine, "v1@example.com")
    assert [b["starts_at"].isoformat() for b in exported["leads"][0]["bookings"]] == [slot]
    dry = erasure.erase(ext(app).engine, ext(app).schema, "v1@example.com", MAYA, utcnow(), dry_run=True, sales=ext(app).sales, domain=ext(app).mail_domain)
    assert dry["bookings_cancelled"] == 1 and appointments.current(ext(app).engine, lead_id) is not None
    erasure.erase(ext(app).engine, ext(app).schema, "v1@example.com", MAYA, utcnow(), sales=ext(app).sales, domain=ext(app).mail_domain)
    assert appointments.current(ext(app).engine, lead_id) is None
    assert slot in [s["start"] for s in first_slots(client)]


def test_marking_a_booked_lead_as_spam_frees_its_time(make_app, one_host):
    from capture.pipeline import tray
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    tray.hold(ext(app), lead_id, MAYA)
    assert appointments.current(ext(app).engine, lead_id) is None
    assert slot in [s["start"] for s in first_slots(client)]


def test_a_browser_without_json_sees_the_taken_time_explained_with_its_answers_kept(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = first_slots(client)[0]["start"]
    client.post("/api/forms/consultation", json=visitor(1, slot))
    page = client.post("/api/forms/consultation", data={**visitor(2, slot), "consent": "on"})
    html = page.get_data(as_text=True)
    assert page.status_code == 409
    assert "That time was just taken. Please pick another. You can suggest a day and time below instead." in html
    assert 'value="v2@example.com"' in html


# --- one owner for a booking's life: every end tells the calendars ----------------------

def booking_updates(app, lead_id: str) -> list[dict]:
    with ext(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox.c.recipient, outbox.c.ref, outbox.c.status)
                                              .where(outbox.c.lead_id == lead_id,
                                                     outbox.c.kind == "booking_update")
                                              .order_by(outbox.c.id)).mappings()]


@pytest.mark.parametrize("how", ["desk", "cli"])
def test_marking_a_booked_lead_as_spam_sends_the_host_a_cancel(make_app, one_host, tmp_path, how):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    Worker(ext(app)).run_once()
    if how == "cli":
        assert app.test_cli_runner().invoke(args=["leads", "spam", lead_id, "--by", MAYA]).exit_code == 0
    else:
        from capture.pipeline import tray
        tray.hold(ext(app), lead_id, MAYA)
    ended = appointments.get(ext(app).engine, made["id"])
    assert (ended["status"], ended["sequence"]) == ("cancelled", 1)
    assert [(u["recipient"], u["ref"]) for u in booking_updates(app, lead_id)] == [(MAYA, f"{made['id']}:1")]
    Worker(ext(app)).run_once()  # sent, though the lead is in the spam tray: the host must lose it
    assert [u["status"] for u in booking_updates(app, lead_id)] == ["sent"]
    [cancel] = [m for m in sent_mail(tmp_path) if m["To"] == MAYA and "cancelled" in str(m["Subject"]).lower()]
    [ics] = [p for p in cancel.walk() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    assert calendar["METHOD"] == "CANCEL"
    assert [int(e["SEQUENCE"]) for e in calendar.walk("VEVENT")] == [1]
    assert not [m for m in sent_mail(tmp_path) if m["To"] == "v1@example.com"
                and "cancelled" in str(m["Subject"]).lower()]  # a bot's address gets nothing more
    assert slot in [s["start"] for s in first_slots(client)]


def test_a_cancelled_consultation_shows_as_cancelled(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], "visitor", ext(app).mail_domain, utcnow())
    assert get_lead(ext(app).engine, lead_id)["status"] == "contacted"
    from capture.pipeline import search
    [row] = [r for r in search.find(ext(app).engine, search.Filters(status="all")) if r["id"] == lead_id]
    assert row["consultation_cancelled"]
    page = signed_in(app, client).get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert "Consultation cancelled:" in page and "Consultation booked:" not in page


def test_the_lead_page_tells_the_host_how_to_meet(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    page = signed_in(app, client).get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert "Consultation booked:" in page and "Call Visitor 1 on +44 20 7946 0018." in page


def signed_in(app, client):
    from tests.desk.test_desk import sign_in
    sign_in(app, client, MAYA)
    return client


def test_a_move_to_the_other_host_cancels_the_first_hosts_meeting(make_app, tmp_path):
    app = make_app()  # two hosts: Maya, then Tom
    client = app.test_client()
    slots = first_slots(client, days=14)
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slots[-1]["start"])).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    first_host = made["host"]
    other = TOM if first_host == MAYA else MAYA
    # Only the other host is free at the new time: the first one has a meeting then.
    target = slots[-3]["start"]
    with ext(app).engine.begin() as conn:
        conn.execute(bookings.insert(), {"id": "blocker", "lead_id": lead_id, "host": first_host,
                                         "starts_at": datetime.fromisoformat(target),
                                         "ends_at": datetime.fromisoformat(slots[-3]["end"]),
                                         "status": "booked", "sequence": 0, "created_at": utcnow(),
                                         "changed_at": None})
    Worker(ext(app)).run_once()
    moved = appointments.move(ext(app).engine, ext(app).sales, made["id"], datetime.fromisoformat(target),
                              "visitor", ext(app).mail_domain, utcnow())
    assert moved["host"] == other
    refs = {u["recipient"]: u["ref"] for u in booking_updates(app, lead_id)}
    assert refs == {other: f"{made['id']}:1:new-host", first_host: f"{made['id']}:1:former-host",
                    "v1@example.com": f"{made['id']}:1"}
    Worker(ext(app)).run_once()
    mail = {m["To"]: m for m in sent_mail(tmp_path) if m["Message-ID"].startswith(f"<booking.{made['id']}.1.")
            and m["To"] in (first_host, other)}  # the move's updates
    methods = {to: Calendar.from_ical([p for p in m.walk() if p.get_content_type() == "text/calendar"][0]
                                      .get_payload(decode=True))["METHOD"] for to, m in mail.items()}
    assert methods == {first_host: "CANCEL", other: "REQUEST"}
    assert str(mail[other]["Subject"]).startswith("Consultation booked")  # new to them, not "moved"
    assert str(mail[first_host]["Subject"]).startswith("Consultation handed over")


@pytest.mark.parametrize("picked", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00",
                                    "2026-W50-1T10:00:00+00:00", "2026-340T10:00:00+00:00", "tomorrow"])
def test_a_time_that_cannot_have_been_offered_is_a_422_on_the_move_and_sales_pages(make_app, one_host, picked,
                                                                                  consultation):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    move = "/actions/booking/" + tokens.booking_token(TEST_SECRET, made["id"], "move", "v1@example.com")
    token = CSRF.search(client.get(move).get_data(as_text=True)).group(1)
    assert client.post(move, data={"slot": picked, "csrf_token": token}).status_code == 422
    request = client.post("/api/forms/consultation", json=consultation).json["id"]
    book = "/actions/" + tokens.action_token(TEST_SECRET, request, tokens.BOOK_REQUESTED, MAYA)
    token = CSRF.search(client.get(book).get_data(as_text=True)).group(1)
    answer = client.post(book, data={"slot": picked, "csrf_token": token})
    assert answer.status_code == 422 and "Please pick one of the times" in answer.get_data(as_text=True)
    assert appointments.current(ext(app).engine, request) is None
    assert appointments.current(ext(app).engine, lead_id)["starts_at"] == made["starts_at"]


def test_picking_the_time_one_has_says_nothing_changed(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    move = "/actions/booking/" + tokens.booking_token(TEST_SECRET, made["id"], "move", "v1@example.com")
    token = CSRF.search(client.get(move).get_data(as_text=True)).group(1)
    answer = client.post(move, data={"slot": slot, "csrf_token": token}).get_data(as_text=True)
    assert "keeps its time" in answer and "emailed you the updated" not in answer
    assert appointments.current(ext(app).engine, lead_id)["sequence"] == 0


# --- one open booking per address ---------------------------------------------------------

def test_an_address_holding_a_consultation_is_refused_another_in_any_case_and_nothing_is_stored(make_app):
    app = make_app()
    client = app.test_client()
    slots = first_slots(client)
    assert client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"])).status_code == 201
    before = (count(app, leads), count(app, bookings), count(app, outbox))
    again = client.post("/api/forms/consultation", json=visitor(1, slots[3]["start"], email="V1@Example.COM"))
    assert again.status_code == 409
    when = datetime.fromisoformat(slots[0]["start"]).astimezone(ext(app).settings.timezone)
    message = again.json["errors"]["slot"]
    assert set(again.json) == {"errors"} and message.startswith("You already have a consultation booked on ")
    assert f"{when.day} {when:%B %Y}, {when:%H:%M}" in message and "email we sent you" in message
    assert (count(app, leads), count(app, bookings), count(app, outbox)) == before
    # A browser gets the form back with the message and its answers.
    page = client.post("/api/forms/consultation", data={**visitor(1, slots[3]["start"]), "consent": "on"})
    html = page.get_data(as_text=True)
    assert page.status_code == 409 and "You already have a consultation booked on" in html
    assert 'value="v1@example.com"' in html and 'value="Visitor 1"' in html
    assert (count(app, leads), count(app, bookings), count(app, outbox)) == before


def test_after_cancelling_the_address_can_book_again(make_app):
    app = make_app()
    client = app.test_client()
    slots = first_slots(client)
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"])).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], "visitor", "fernleaf.example", utcnow())
    again = client.post("/api/forms/consultation", json=visitor(1, slots[1]["start"]))
    assert again.status_code == 201
    assert appointments.current(ext(app).engine, again.json["id"])["starts_at"].isoformat() == slots[1]["start"]


def test_a_meeting_that_is_over_no_longer_holds_the_address(make_app):
    app = make_app()
    client = app.test_client()
    slots = first_slots(client, days=14)
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"])).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    with ext(app).engine.connect() as conn:
        assert appointments.open_booking(conn, "V1@example.com", utcnow())["id"] == made["id"]
        assert appointments.open_booking(conn, "V1@example.com", made["ends_at"]) is None
        assert appointments.open_booking(conn, "v2@example.com", utcnow()) is None


def test_two_racing_bookings_for_one_address_make_exactly_one(make_app):
    app = make_app()
    slots = first_slots(app.test_client(), days=14)
    pairs = 4
    go = threading.Barrier(2)

    def attempt(n: int) -> int:
        go.wait()  # both requests set off together
        address = f"racer{n // 2}@example.com" if n % 2 else f"Racer{n // 2}@Example.com"
        return app.test_client().post("/api/forms/consultation",
                                      json=visitor(n, slots[n]["start"], email=address)).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [sorted(pool.map(attempt, (2 * k, 2 * k + 1))) for k in range(pairs)]
    assert answers == [[201, 409]] * pairs
    assert count(app, leads) == count(app, bookings) == pairs


# --- found by review: late workers, repeated changes, release, erased leads --------------

def host_cancel_sent(app, lead_id: str, host: str) -> list[str]:
    return [u["ref"] for u in booking_updates(app, lead_id) if u["recipient"] == host and u["status"] == "sent"]


def test_an_erasure_before_the_worker_still_sends_the_hosts_cancel(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    Worker(ext(app)).run_once()
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], "visitor", ext(app).mail_domain, utcnow())
    from capture.privacy import erasure
    erasure.erase(ext(app).engine, ext(app).schema, "v1@example.com", MAYA, utcnow(),
                  sales=ext(app).sales, domain=ext(app).mail_domain)  # the worker is behind
    Worker(ext(app)).run_once()
    assert host_cancel_sent(app, lead_id, MAYA) == [f"{made['id']}:1"]
    visitor_updates = [u for u in booking_updates(app, lead_id) if u["recipient"] != MAYA]
    assert {u["status"] for u in visitor_updates} <= {"dropped"}  # nothing more to the erased person


def test_the_first_hosts_cancel_survives_a_later_change(make_app):
    app = make_app()
    client = app.test_client()
    slots = first_slots(client, days=14)
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slots[-1]["start"])).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    first_host = made["host"]
    target = slots[-3]
    with ext(app).engine.begin() as conn:  # the first host is busy at the new time
        conn.execute(bookings.insert(), {"id": "blocker", "lead_id": lead_id, "host": first_host,
                                         "starts_at": datetime.fromisoformat(target["start"]),
                                         "ends_at": datetime.fromisoformat(target["end"]), "status": "booked",
                                         "sequence": 0, "created_at": utcnow(), "changed_at": None})
    Worker(ext(app)).run_once()
    appointments.move(ext(app).engine, ext(app).sales, made["id"], datetime.fromisoformat(target["start"]),
                      "visitor", ext(app).mail_domain, utcnow())
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], "visitor", ext(app).mail_domain, utcnow())
    Worker(ext(app)).run_once()  # both changes before the worker came round
    assert host_cancel_sent(app, lead_id, first_host) == [f"{made['id']}:1:former-host"]


def test_not_spam_after_spam_tells_the_visitor_their_meeting_is_off(make_app, one_host, tmp_path):
    from capture.pipeline import tray
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    Worker(ext(app)).run_once()  # the visitor has the invitation
    tray.hold(ext(app), lead_id, MAYA)
    tray.release(ext(app), lead_id, MAYA)
    Worker(ext(app)).run_once()
    to_visitor = [u for u in booking_updates(app, lead_id) if u["recipient"] == "v1@example.com"]
    assert [(u["ref"], u["status"]) for u in to_visitor] == [(f"{made['id']}:1", "sent")]
    assert host_cancel_sent(app, lead_id, MAYA) == [f"{made['id']}:1"]  # once, at the spam mark
    assert get_lead(ext(app).engine, lead_id)["status"] == "contacted"


def test_an_erased_lead_cannot_be_booked_from_an_old_email(make_app, consultation):
    from capture.privacy import erasure
    app = make_app()
    client = app.test_client()
    lead_id = client.post("/api/forms/consultation", json=consultation).json["id"]
    erasure.erase(ext(app).engine, ext(app).schema, consultation["email"], MAYA, utcnow(),
                  sales=ext(app).sales, domain=ext(app).mail_domain)
    book = "/actions/" + tokens.action_token(TEST_SECRET, lead_id, tokens.BOOK_REQUESTED, MAYA)
    assert client.get(book).status_code == 404
    slot = datetime.fromisoformat(first_slots(client, days=14)[-1]["start"])
    with pytest.raises(NoSuchLead):
        appointments.book_requested(ext(app).engine, ext(app).sales, lead_id, slot, MAYA, ext(app).mail_domain,
                                    utcnow())
    assert appointments.current(ext(app).engine, lead_id) is None
