"""Phone or video, and the visitor's zone: what every message, invitation and the booking itself say.

Mail goes through the real aiosmtpd sink; invitations are read back with icalendar.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from capture.booking import appointments
from capture.booking.meeting import How, chosen, location, on_card, to_host, to_visitor
from capture.core.clock import utcnow
from capture.core.formatting import wall_time
from capture.db.models import bookings, outbox
from capture.delivery.worker import Worker
from capture.schema.consultation import Meeting
from capture.schema.forms import load_schema
from tests.booking.test_appointments import MAYA, ext, first_slots, one_host, visitor  # noqa: F401 (fixture)
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("clock")
NEW_YORK, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
VIDEO_URL = "https://meet.fernleaf.example/consultation"
NUMBER = "+44 20 7946 0018"
JANE = "jane@example.com"


# --- the voices -------------------------------------------------------------------

def test_each_reader_hears_it_in_their_own_voice():
    phone, video = How("phone", phone=NUMBER), How("video", video_url=VIDEO_URL)
    assert to_visitor(phone) == f"We will call you on {NUMBER}."
    assert to_host(phone, "Jane Doe") == f"Call Jane Doe on {NUMBER}."
    assert to_visitor(video) == f"Join the video call: {VIDEO_URL}"
    assert to_host(video, "Jane Doe") == f"Video call: {VIDEO_URL}"
    assert on_card(video) == f"Video call: {VIDEO_URL}" and on_card(phone) == to_visitor(phone)
    assert (location(phone), location(video)) == (f"Phone call: {NUMBER}", VIDEO_URL)
    # Booked before numbers were required (or erased since): nobody is told a number that is not there.
    assert "number you gave" not in to_visitor(How("phone")) and "reply" in to_visitor(How("phone"))
    assert "gave no number" in to_host(How("phone"), "Jane Doe")


def test_the_choice_is_the_forms_when_offered_else_the_first_kind():
    form = load_schema("forms.yml").forms["consultation"]
    both = Meeting(kinds=("phone", "video"), details={}, video_url=VIDEO_URL)
    assert chosen(form, {"meeting_kind": "video", "time_zone": "America/New_York"}, both) == \
        ("video", "America/New_York")
    assert chosen(form, {}, both) == ("phone", None)
    assert chosen(form, {"meeting_kind": "video", "time_zone": "Nowhere/Land"},
                  Meeting(kinds=("phone",), details={})) == ("phone", None)
    assert chosen(None, {"meeting_kind": "video"}, both) == ("phone", None)


# --- the form ----------------------------------------------------------------------

@pytest.mark.parametrize("change, field, message", [
    ({"meeting_kind": "phone", "phone": ""}, "phone", "We need a number to call you on."),
    ({"meeting_kind": "carrier-pigeon"}, "meeting_kind", "Please choose one of the options."),
    ({"meeting_kind": ""}, "meeting_kind", "Please choose an option."),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "We do not know this time zone."),
    ({"time_zone": "../../etc/passwd"}, "time_zone", "We do not know this time zone."),
])
def test_a_booking_that_cannot_be_held_is_a_422_naming_the_field(make_app, one_host, change, field, message):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = first_slots(client)[0]["start"]
    response = client.post("/api/forms/consultation", json={**visitor(1, slot), **change})
    assert response.status_code == 422
    assert message in response.json["errors"][field]
    assert count_bookings(app) == 0


def test_a_browser_without_the_number_gets_the_form_again_saying_why(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    response = client.post("/api/forms/consultation", data={**visitor(1, ""), "consent": "on", "phone": ""},
                           headers={"Accept": "text/html"})
    assert response.status_code == 422
    assert "We need a number to call you on." in response.get_data(as_text=True)


def count_bookings(app) -> int:
    with ext(app).engine.connect() as conn:
        return len(conn.execute(select(bookings.c.id)).all())


def test_the_booking_keeps_the_kind_and_the_zone(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slots = first_slots(client)
    ids = [client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"], meeting_kind="video", phone="",
                                                               time_zone="America/New_York")).json["id"],
           client.post("/api/forms/consultation", json=visitor(2, slots[3]["start"])).json["id"]]
    found = [appointments.current(ext(app).engine, lead_id) for lead_id in ids]
    assert [(b["meeting_kind"], b["visitor_zone"]) for b in found] == [("video", "America/New_York"), ("phone", None)]
    # A move keeps both.
    moved = appointments.move(ext(app).engine, ext(app).sales, found[0]["id"],
                              datetime.fromisoformat(slots[6]["start"]), "visitor", "fernleaf.example", utcnow())
    assert (moved["meeting_kind"], moved["visitor_zone"]) == ("video", "America/New_York")
    assert appointments.current(ext(app).engine, ids[0])["visitor_zone"] == "America/New_York"


# --- the mail -----------------------------------------------------------------------

def far_slot(client) -> dict:
    """A free time two days ahead or more: its reminder is queued."""
    return next(s for s in first_slots(client, days=14)
                if datetime.fromisoformat(s["start"]) > utcnow() + timedelta(days=2))


def invitation(message) -> Calendar:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    content = part.get_content()
    return Calendar.from_ical(content if isinstance(content, str) else content.decode())


def texts(message) -> tuple[str, str]:
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return plain, html


def run_whole_life(app, client, smtp, **answers):
    """Book, move, remind and cancel one consultation, sending everything; (booking, messages by id part)."""
    slot = far_slot(client)
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slot["start"], name="Jane Doe",
                                                                  email=JANE, **answers)).json["id"]
    Worker(ext(app)).run_once()
    made = appointments.current(ext(app).engine, lead_id)
    later = next(s for s in first_slots(client, days=14)
                 if datetime.fromisoformat(s["start"]) > datetime.fromisoformat(slot["start"]) + timedelta(days=1))
    moved = appointments.move(ext(app).engine, ext(app).sales, made["id"], datetime.fromisoformat(later["start"]),
                              "visitor", "fernleaf.example", utcnow())
    with ext(app).engine.begin() as conn:  # time passes: the reminder of the new time is due
        conn.execute(update(outbox).where(outbox.c.kind == "remind_visitor").values(available_at=utcnow()))
    Worker(ext(app)).run_once()
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], "visitor", "fernleaf.example", utcnow())
    Worker(ext(app)).run_once()
    return made, moved, lead_id


def test_every_visitor_message_and_invitation_shows_their_zone_and_the_hosts_the_studios(
        make_app, one_host, smtp_sink):
    app = make_app(sales=str(one_host), mail_url=smtp_sink.url)
    client = app.test_client()
    made, moved, lead_id = run_whole_life(app, client, smtp_sink, time_zone="America/New_York")
    to_jane = [r.message for r in smtp_sink.messages if r.recipients == [JANE]]
    to_maya = [r.message for r in smtp_sink.messages if r.recipients == [MAYA]]
    # Confirmation, the move's update, the reminder, the cancellation.
    assert len(to_jane) == 4 and len(to_maya) == 3  # notification, move, cancellation
    assert sum(str(m["Subject"]).startswith("Tomorrow") for m in to_jane) == 1
    for message in to_jane:
        plain, html = texts(message)
        assert "New York time" in plain and "New York time" in html, message["Subject"]
        assert "London time" not in plain + html
        assert "Hello Jane," in plain
    booked_at = wall_time(made["starts_at"], made["ends_at"], NEW_YORK)
    moved_at = wall_time(moved["starts_at"], moved["ends_at"], NEW_YORK)
    subjects = [str(m["Subject"]) for m in to_jane]
    assert subjects[0] == f"Your free consultation is booked: {booked_at}"
    assert any(moved_at in s for s in subjects[1:3])  # the new time's update and the reminder name it
    for message in to_jane:
        cal = invitation(message)
        [event] = cal.walk("VEVENT")
        assert str(cal["X-WR-TIMEZONE"]) == "America/New_York"
        assert "New York time" in str(event["DESCRIPTION"])
        assert str(event["LOCATION"]) == f"Phone call: {NUMBER}"
        assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    for message in to_maya:
        plain, html = texts(message)
        assert "London time" in plain and "New York time" not in plain + html
        assert "London time" in str(invitation(message).walk("VEVENT")[0]["DESCRIPTION"])
    for message in to_maya[:2]:  # booked and moved; the cancellation says only what is off
        assert f"Call Jane Doe on {NUMBER}." in texts(message)[0]
    plain, _ = texts(to_jane[0])
    assert f"We will call you on {NUMBER}." in plain
    assert str(invitation(to_jane[0]).walk("VEVENT")[0]["DESCRIPTION"]).startswith(f"We will call you on {NUMBER}.")


def test_a_video_call_gives_the_visitor_and_the_host_the_link(make_app, one_host, smtp_sink):
    app = make_app(sales=str(one_host), mail_url=smtp_sink.url)
    client = app.test_client()
    slot = far_slot(client)
    client.post("/api/forms/consultation", json=visitor(1, slot["start"], name="Jane Doe", email=JANE,
                                                        meeting_kind="video", phone=""))
    Worker(ext(app)).run_once()
    [to_jane] = [r.message for r in smtp_sink.messages if r.recipients == [JANE]]
    [to_maya] = [r.message for r in smtp_sink.messages if r.recipients == [MAYA]]
    plain, html = texts(to_jane)
    assert f"Join the video call: {VIDEO_URL}" in plain and f'href="{VIDEO_URL}"' in html
    assert "London time" in plain  # no zone sent: the studio's, named
    assert f"Video call: {VIDEO_URL}" in texts(to_maya)[0]
    for message in (to_jane, to_maya):
        [event] = invitation(message).walk("VEVENT")
        assert str(event["LOCATION"]) == VIDEO_URL and str(event["URL"]) == VIDEO_URL
    assert "We will call" not in plain


def test_one_who_already_holds_a_booking_is_told_its_time_in_their_zone(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slots = first_slots(client)
    client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"], time_zone="America/New_York"))
    held = datetime.fromisoformat(slots[0]["start"]), datetime.fromisoformat(slots[0]["end"])
    again = client.post("/api/forms/consultation", json=visitor(1, slots[3]["start"]))
    assert again.status_code == 409
    assert wall_time(*held, NEW_YORK) in again.json["errors"]["slot"]  # the zone they booked in
    again = client.post("/api/forms/consultation", json=visitor(1, slots[3]["start"], time_zone="Asia/Tokyo"))
    assert wall_time(*held, ZoneInfo("Asia/Tokyo")) in again.json["errors"]["slot"]  # the zone they are in now
