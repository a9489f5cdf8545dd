"""The Booked card: the API's `booking` after a booking, the Booked page without the script, and its .ics."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from capture.booking import appointments
from capture.booking.invitations import booking_uid
from capture.core.clock import utcnow
from capture.core.formatting import wall_time
from capture.db.models import bookings, outbox
from capture.core.zones import known_zone
from tests.booking.test_appointments import ext, first_slots, one_host, visitor  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("clock")
NUMBER = "+44 20 7946 0018"
VIDEO_URL = "https://meet.fernleaf.example/consultation"
KEYS = ["what", "kind", "starts_at", "ends_at", "time_zone", "when", "studio_when", "host", "how", "video_url",
        "invitation_to", "calendar", "manage"]


def book(client, n=1, **answers):
    slot = first_slots(client)[0]
    response = client.post("/api/forms/consultation", json=visitor(n, slot["start"], name="Jane Doe", **answers))
    assert response.status_code == 201, response.json
    return slot, response.json


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_the_api_answers_a_booking_with_the_booked_card(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot, answer = book(client, time_zone="America/New_York")
    card = answer["booking"]
    assert list(card) == KEYS and answer["status"] == "received"
    start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
    assert card["what"] == "Free 30-minute consultation by phone" and card["kind"] == "phone"
    assert card["starts_at"] == start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert card["ends_at"].endswith("Z") and datetime.fromisoformat(card["ends_at"]) == end
    assert card["time_zone"] == "America/New_York"
    assert card["when"] == wall_time(start, end, known_zone("America/New_York"))
    assert card["studio_when"] == wall_time(start, end, ext(app).settings.timezone)
    assert "New York time" in card["when"] and "London time" in card["studio_when"]
    assert card["host"] == "Maya Patel"
    assert card["how"] == f"We will call you on {NUMBER}." and card["video_url"] is None
    assert card["invitation_to"] == "v1@example.com"
    google = urlsplit(card["calendar"]["google"])
    query = parse_qs(google.query)
    assert (google.scheme, google.netloc, google.path) == ("https", "calendar.google.com", "/calendar/render")
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["Free consultation with Fernleaf Studio"]
    stamp = "%Y%m%dT%H%M%SZ"
    assert query["dates"] == [f"{start.astimezone(timezone.utc):{stamp}}/{end.astimezone(timezone.utc):{stamp}}"]
    assert query["details"][0].startswith(f"We will call you on {NUMBER}.")
    outlook = urlsplit(card["calendar"]["outlook"])
    query = parse_qs(outlook.query)
    assert outlook.netloc == "outlook.live.com" and outlook.path == "/calendar/0/deeplink/compose"
    assert (query["startdt"], query["enddt"]) == ([card["starts_at"]], [card["ends_at"]])
    assert query["subject"] == ["Free consultation with Fernleaf Studio"] and NUMBER in query["body"][0]
    public = ext(app).settings.public_url
    assert card["calendar"]["ics"].startswith(public) and card["calendar"]["ics"].endswith("/invitation.ics")
    for action in ("move", "cancel"):
        assert card["manage"][action].startswith(f"{public}/actions/booking/")
        assert client.get(path_of(card["manage"][action])).status_code == 200


def test_a_video_call_in_the_studios_zone_has_the_link_and_no_second_time(make_app, one_host):
    app = make_app(sales=str(one_host))
    _, answer = book(app.test_client(), meeting_kind="video", phone="")
    card = answer["booking"]
    assert card["what"] == "Free 30-minute consultation by video call" and card["kind"] == "video"
    assert card["how"] == f"Video call: {VIDEO_URL}" and card["video_url"] == VIDEO_URL
    assert card["time_zone"] == "Europe/London" and card["studio_when"] is None
    assert "London time" in card["when"]
    assert parse_qs(urlsplit(card["calendar"]["google"]).query)["location"] == [VIDEO_URL]


def test_a_request_without_a_time_has_no_card(make_app, one_host, consultation):
    app = make_app(sales=str(one_host))
    answer = app.test_client().post("/api/forms/consultation", json=consultation)
    assert answer.status_code == 201 and "booking" not in answer.json


def counts(app) -> tuple:
    with ext(app).engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(outbox)).scalar(),
                conn.execute(select(bookings.c.status, bookings.c.sequence)).all())


def test_a_browser_goes_to_the_booked_page_which_shows_the_card_and_changes_nothing(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slot = first_slots(client)[0]
    answers = {**visitor(1, slot["start"], name="Jane Doe", time_zone="America/New_York"), "consent": "on"}
    response = client.post("/api/forms/consultation", data=answers, headers={"Accept": "text/html"})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(f"{ext(app).settings.public_url}/actions/booked/")
    before = counts(app)
    for method in (client.get, client.head):
        page = method(path_of(location))
        assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    html = client.get(path_of(location)).get_data(as_text=True)
    start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
    for text in ("<h1 id=\"booked-title\">Booked</h1>", "Thank you, Jane.", "Free 30-minute consultation by phone",
                 wall_time(start, end, known_zone("America/New_York")), "Maya Patel",
                 f"We will call you on {NUMBER}.", "v1@example.com", "calendar.google.com",
                 "outlook.live.com", "/invitation.ics", "Change the time", "Cancel the consultation"):
        assert text in html, text
    assert "Fernleaf Studio" in html and 'class="booked"' in html
    assert counts(app) == before  # opening the page acted on nothing


def test_the_invitation_download_is_the_visitors_calendar_file(make_app, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    _, answer = book(client, time_zone="America/New_York")
    made = appointments.current(ext(app).engine, answer["id"])
    url = path_of(answer["booking"]["calendar"]["ics"])
    before = counts(app)
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    cal = Calendar.from_ical(response.data)
    [event] = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "REQUEST" and str(cal["X-WR-TIMEZONE"]) == "America/New_York"
    assert str(event["UID"]) == booking_uid(made["id"], ext(app).mail_domain)
    assert event.decoded("DTSTART") == made["starts_at"]
    assert "New York time" in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == f"Phone call: {NUMBER}"
    assert client.head(url).status_code == 200
    assert counts(app) == before
    # Tampered, or the booking cancelled: no file.
    assert client.get(url.replace("/invitation.ics", "xx/invitation.ics")).status_code == 404
    appointments.cancel(ext(app).engine, ext(app).sales, made["id"], "visitor", "fernleaf.example", utcnow())
    assert client.get(url).status_code == 410
    assert client.post(url).status_code == 405
