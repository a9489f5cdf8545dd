"""Every iCalendar file the service sends (requested, booked, moved, cancelled), read back as clients would."""
from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar

from capture.booking.invitations import (
    CONTENT_TYPE,
    booking_uid,
    consultation_uid,
    content_params,
    invitation,
    tentative,
)
from capture.booking import appointments
from capture.pipeline import tray
from capture.core.clock import utcnow
from capture.booking.meeting import How
from capture.delivery.worker import Worker
from tests.conftest import need_service
from tests.booking.test_appointments import MAYA, ext, first_slots, one_host, sent_mail, visitor  # noqa: F401 (fixture)

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
PHONE = How(kind="phone", phone="+44 20 7946 0018", details="Please have your phone to hand.")
PHONE_LINE = "We will call you on +44 20 7946 0018."
VIDEO = How(kind="video", details="Open the link a minute early.",
            video_url="https://meet.example.com/fernleaf-consult")
VIDEO_LINE = "Join the video call: https://meet.example.com/fernleaf-consult"
AWKWARD = 'Zoë "Z" O\'Neil; CEO, Acme\nLtd'
WINTER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # GMT: 09:00 in London
SUMMER = datetime(2026, 7, 14, 13, 0, tzinfo=UTC)  # BST: 14:00 in London


def build(**changes) -> bytes:
    """An invitation with sensible defaults, any of them replaced."""
    args = dict(uid="booking-7f3a@fernleaf.example", sequence=0, method="REQUEST",
                start=WINTER, end=WINTER.replace(minute=30),
                organizer=("Priya Shah", "priya@fernleaf.example"),
                attendee=("Sam Visitor", "sam@example.com"), how=PHONE, line=PHONE_LINE, tz=LONDON,
                summary="Consultation with Fernleaf Studio",
                stamp=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
                description="To cancel, use the link in your confirmation email.")
    args.update(changes)
    return invitation(**args)


def parse(ics: bytes) -> tuple[Calendar, object]:
    """The calendar and its one event."""
    cal = Calendar.from_ical(ics)
    [event] = cal.walk("VEVENT")
    return cal, event


def test_a_request_is_a_confirmed_event_in_utc():
    cal, event = parse(build())
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(cal["PRODID"]) == "-//Fernleaf Studio//Capture//EN"
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["CALSCALE"]) == "GREGORIAN"
    assert str(event["UID"]) == "booking-7f3a@fernleaf.example"
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["TRANSP"]) == "OPAQUE"
    assert event.decoded("DTSTART") == WINTER and event.decoded("DTSTART").utcoffset().total_seconds() == 0
    assert event.decoded("DTEND") == WINTER.replace(minute=30)
    assert event.decoded("DTSTAMP") == datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
    assert "TZID" not in event["DTSTART"].params
    assert b"DTSTART:20261201T090000Z" in build()


def test_organizer_and_attendee_are_addresses_with_names():
    _, event = parse(build())
    organizer, attendee = event["ORGANIZER"], event["ATTENDEE"]
    assert str(organizer) == "mailto:priya@fernleaf.example"
    assert organizer.params["CN"] == "Priya Shah"
    assert str(attendee) == "mailto:sam@example.com"
    assert attendee.params["CN"] == "Sam Visitor"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert attendee.params["RSVP"] == "FALSE"


def test_the_business_time_zone_is_attached_and_named():
    cal, _ = parse(build())
    [vtimezone] = cal.walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == "Europe/London"
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/London"
    names = {str(sub["TZNAME"]) for sub in vtimezone.subcomponents}
    assert names == {"GMT", "BST"}


@pytest.mark.parametrize("start, line", [
    (WINTER, "Tuesday 1 December 2026, 09:00–09:30 London time (GMT)"),
    (SUMMER, "Tuesday 14 July 2026, 14:00–14:30 London time (BST)"),
])
def test_the_description_shows_the_wall_time_in_the_business_zone(start, line):
    _, event = parse(build(start=start, end=start.replace(minute=30)))
    text = str(event["DESCRIPTION"])
    assert line in text
    assert text.startswith(f"{PHONE_LINE}\n\n{PHONE.details}")
    assert text.endswith("To cancel, use the link in your confirmation email.")


def test_a_phone_call_says_so_with_the_number_and_has_no_link():
    _, event = parse(build(how=PHONE))
    assert str(event["LOCATION"]) == "Phone call: +44 20 7946 0018"
    assert "URL" not in event
    _, event = parse(build(how=How(kind="phone"), line="We will call you."))
    assert str(event["LOCATION"]) == "Phone call"


def test_a_video_call_gives_its_link_as_location_and_url():
    _, event = parse(build(how=VIDEO, line=VIDEO_LINE))
    assert str(event["LOCATION"]) == VIDEO.video_url
    assert str(event["URL"]) == VIDEO.video_url
    assert str(event["DESCRIPTION"]).startswith(f"{VIDEO_LINE}\n\n{VIDEO.details}")


def test_a_cancellation_is_the_same_event_with_a_higher_sequence():
    _, booked = parse(build(sequence=1))
    cal, cancelled = parse(build(method="CANCEL", sequence=2))
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["UID"]) == str(booked["UID"])
    assert cancelled["SEQUENCE"] > booked["SEQUENCE"]
    attendee = cancelled["ATTENDEE"]
    assert str(attendee) == "mailto:sam@example.com"
    assert attendee.params["RSVP"] == "FALSE"
    assert "PARTSTAT" not in attendee.params


@pytest.mark.parametrize("method", ["PUBLISH", "request", "", "REPLY", "COUNTER"])
def test_only_request_and_cancel_are_methods_of_an_invitation(method):
    with pytest.raises(ValueError):
        build(method=method)


@pytest.mark.parametrize("method", ["request", "", "REPLY", "COUNTER", "REQUEST; x=y"])
def test_a_calendar_part_has_request_cancel_or_publish_only(method):
    with pytest.raises(ValueError):
        content_params(method)


@pytest.mark.parametrize("changes", [
    {"start": datetime(2026, 12, 1, 9, 0)},  # naive: would be floating time
    {"end": WINTER},  # ends when it starts
    {"sequence": -1},
    {"sequence": True},
])
def test_impossible_events_are_refused(changes):
    with pytest.raises(ValueError):
        build(**changes)


def test_awkward_names_are_literal_in_every_parameter():
    ics = build(organizer=(AWKWARD, "priya@fernleaf.example"), attendee=(AWKWARD, "zoe@example.com"),
                summary=f"Consultation with {AWKWARD}")
    _, event = parse(ics)
    collapsed = 'Zoë "Z" O\'Neil; CEO, Acme Ltd'
    assert event["ORGANIZER"].params["CN"] == collapsed
    assert event["ATTENDEE"].params["CN"] == collapsed
    assert str(event["ATTENDEE"]) == "mailto:zoe@example.com"
    # Text values keep the newline: escaped by the library, restored on parsing.
    assert str(event["SUMMARY"]) == f"Consultation with {AWKWARD}"
    assert set(event) == set(parse(build())[1])  # no property added or lost


def test_a_long_name_is_trimmed_to_200_characters():
    _, event = parse(build(attendee=("x" * 500, "sam@example.com")))
    assert len(event["ATTENDEE"].params["CN"]) == 200


def test_an_address_cannot_smuggle_in_a_line():
    with pytest.raises(ValueError):
        build(attendee=("Sam", "sam@example.com\r\nATTENDEE:mailto:evil@example.com"))


@pytest.mark.parametrize("start", [WINTER, SUMMER])
def test_lines_end_in_crlf_and_are_folded_at_75_octets(start):
    ics = build(start=start, end=start.replace(minute=30), how=VIDEO, line=VIDEO_LINE,
                attendee=(AWKWARD + " " + "é" * 150, "zoe@example.com"),
                description="A long note. " * 20)
    assert ics.endswith(b"\r\n")
    lines = ics.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # something was folded
    for line in lines:
        line.decode("utf-8")  # folding never splits a character


def test_the_mime_part_carries_the_method():
    assert CONTENT_TYPE == "text/calendar"
    assert content_params("REQUEST") == {"method": "REQUEST"}
    assert content_params("CANCEL") == {"method": "CANCEL"}
    assert content_params("PUBLISH") == {"method": "PUBLISH"}


# --- the time a visitor asked for: a tentative event ------------------------------------

def asked(**changes) -> bytes:
    """A tentative event with sensible defaults, any of them replaced."""
    args = dict(uid="consultation-L1@fernleaf.example", start=WINTER, end=WINTER.replace(hour=12),
                organizer="shops@fernleaf.example", tz=LONDON,
                summary="Consultation with Fernleaf Studio (requested)",
                stamp=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
                description="Consultation: the time you asked for. We will confirm it by email.")
    args.update(changes)
    return tentative(**args)


def test_a_requested_time_is_a_tentative_published_event_from_the_same_builder():
    cal, event = parse(asked())
    _, booked = parse(build())
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(event["STATUS"]) == "TENTATIVE" and event["SEQUENCE"] == 0
    assert str(event["UID"]) == "consultation-L1@fernleaf.example"
    # One builder: the same product id, zone and conventions as an invitation.
    assert str(cal["PRODID"]) == str(parse(build())[0]["PRODID"]) == "-//Fernleaf Studio//Capture//EN"
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Europe/London"]
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/London"
    assert event.decoded("DTSTART") == WINTER and "TZID" not in event["DTSTART"].params
    assert event.decoded("DTEND") == WINTER.replace(hour=12)
    # RFC 5546 wants an organizer for PUBLISH; nobody is invited yet.
    assert str(event["ORGANIZER"]) == "mailto:shops@fernleaf.example"
    assert event["ORGANIZER"].params["CN"] == "Fernleaf Studio"
    assert "ATTENDEE" not in event
    text = str(event["DESCRIPTION"])
    assert text.startswith("Tuesday 1 December 2026, 09:00–12:00 London time (GMT)")
    assert text.endswith("We will confirm it by email.")
    assert set(booked) - set(event) == {"ATTENDEE", "LOCATION"}  # the same event, less who and where


@pytest.mark.parametrize("changes", [
    {"start": datetime(2026, 12, 1, 9, 0)},
    {"end": WINTER},
    {"organizer": "shops@fernleaf.example\r\nATTENDEE:mailto:evil@example.com"},
])
def test_an_impossible_tentative_event_is_refused(changes):
    with pytest.raises(ValueError):
        asked(**changes)


def test_a_request_and_a_booking_have_distinct_uid_spaces():
    assert consultation_uid("L1", "fernleaf.example") == "consultation-L1@fernleaf.example"
    assert booking_uid("L1", "fernleaf.example") == "booking-L1@fernleaf.example"


# --- one event per consultation, as calendar clients see it -----------------------------
# A request without a picked time reaches the visitor as a tentative event; when sales
# book it, the invitation must replace that event, not sit beside it (issue 18, item 6).

DOMAIN = "fernleaf.example"


def requested(app, client) -> tuple[str, datetime]:
    """A request for the day and window of a free slot (no time picked): its lead id and that slot."""
    slot = datetime.fromisoformat(first_slots(client, days=14)[-1]["start"])
    local = slot.astimezone(ext(app).settings.timezone)
    window = next(w for w in ("09:00-12:00", "12:00-14:00", "14:00-17:30") if w[:5] <= f"{local:%H:%M}" < w[6:])
    answers = {**visitor(1, ""), "preferred_date": local.date().isoformat(), "preferred_time": window}
    return client.post("/api/forms/consultation", json=answers).json["id"], slot


def released(app, client) -> tuple[str, datetime]:
    """A time picked on the website by a lead held as spam (so not booked), then released from the tray."""
    slot = datetime.fromisoformat(first_slots(client, days=14)[-1]["start"])
    lead_id = client.post("/api/forms/consultation", json={**visitor(1, slot.isoformat()), "fax": "x"}).json["id"]
    assert appointments.current(ext(app).engine, lead_id) is None
    tray.release(ext(app), lead_id, MAYA)
    return lead_id, slot


def calendars(tmp_path, to: str, before: dict | None = None) -> dict[str, str]:
    """The inline text/calendar alternatives (what Gmail and Outlook act on) mailed to `to`, by Message-ID,
    less those already in `before`."""
    return {m["Message-ID"]: p.get_content() for m in sent_mail(tmp_path) if m["To"] == to
            for p in m.walk() if p.get_content_type() == "text/calendar" and m["Message-ID"] not in (before or {})}


def book_the_request(tmp_path, make_app, one_host, asking=requested) -> dict:
    """A request, its confirmation, sales booking it and the invitations: the calendars each received."""
    app = make_app(sales=str(one_host))
    client = app.test_client()
    lead_id, slot = asking(app, client)
    Worker(ext(app)).run_once()
    confirmed = calendars(tmp_path, "v1@example.com")
    [tentative_ics] = confirmed.values()
    assert calendars(tmp_path, MAYA) == {}  # nothing is booked yet: sales get no event
    made = appointments.book_requested(ext(app).engine, ext(app).sales, lead_id, slot, MAYA, DOMAIN, utcnow())
    Worker(ext(app)).run_once()
    [visitor_ics] = calendars(tmp_path, "v1@example.com", confirmed).values()
    [host_ics] = calendars(tmp_path, MAYA).values()
    return {"app": app, "client": client, "lead_id": lead_id, "booking": made.booking,
            "tentative": tentative_ics, "visitor": visitor_ics, "host": host_ics}


def test_a_booked_request_keeps_the_uid_of_its_tentative_event_through_move_and_cancel(
        make_app, tmp_path, one_host):
    found = book_the_request(tmp_path, make_app, one_host)
    uid = f"consultation-{found['lead_id']}@{DOMAIN}"
    # icalendar and vobject (what khal and many CalDAV tools are built on) read one event.
    for name in ("tentative", "visitor", "host"):
        [event] = Calendar.from_ical(found[name]).walk("VEVENT")
        assert str(event["UID"]) == uid, name
        assert vobject.readOne(found[name]).vevent.uid.value == uid, name
    assert [vobject.readOne(found[n]).method.value for n in ("tentative", "visitor")] == ["PUBLISH", "REQUEST"]
    # Moving and cancelling keep that UID, each with a higher SEQUENCE.
    app, client = found["app"], found["client"]
    other = datetime.fromisoformat(first_slots(client, days=14)[0]["start"])
    before = {**calendars(tmp_path, "v1@example.com"), **calendars(tmp_path, MAYA)}
    moved = appointments.move(ext(app).engine, ext(app).sales, found["booking"]["id"], other, "visitor",
                              DOMAIN, utcnow())
    Worker(ext(app)).run_once()  # each update is sent before the next change makes it stale
    appointments.cancel(ext(app).engine, ext(app).sales, moved["id"], "visitor", DOMAIN, utcnow())
    Worker(ext(app)).run_once()
    for to in ("v1@example.com", MAYA):
        parsed = [vobject.readOne(text) for text in calendars(tmp_path, to, before).values()]
        seen = sorted((c.vevent.uid.value, int(c.vevent.sequence.value), c.method.value) for c in parsed)
        assert seen == [(uid, 1, "REQUEST"), (uid, 2, "CANCEL")], to


def test_a_released_lead_booked_by_sales_replaces_its_tentative_event(make_app, tmp_path, one_host):
    found = book_the_request(tmp_path, make_app, one_host, released)
    uid = f"consultation-{found['lead_id']}@{DOMAIN}"
    assert [vobject.readOne(found[n]).vevent.uid.value for n in ("tentative", "visitor", "host")] == [uid] * 3


def test_a_time_booked_on_the_website_keeps_its_own_uid(make_app, tmp_path, one_host):
    app = make_app(sales=str(one_host))
    client = app.test_client()
    lead_id = client.post("/api/forms/consultation", json=visitor(1, first_slots(client)[0]["start"])).json["id"]
    Worker(ext(app)).run_once()
    made = appointments.current(ext(app).engine, lead_id)
    [ics] = calendars(tmp_path, "v1@example.com").values()
    assert vobject.readOne(ics).vevent.uid.value == f"booking-{made['id']}@{DOMAIN}"


def khal(config: Path, *args: str) -> str:
    done = subprocess.run(["khal", "-c", str(config), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TZ": "Europe/London"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_khal_shows_one_event_for_the_request_and_its_booking(make_app, tmp_path, one_host):
    if shutil.which("khal") is None:
        need_service("khal is not installed (apt-get install khal)")
    found = book_the_request(tmp_path, make_app, one_host)
    folder = tmp_path / "khal"
    (folder / "calendar").mkdir(parents=True)
    config = folder / "config"
    config.write_text(KHAL_CONFIG.format(folder=folder))
    start = found["booking"]["starts_at"].astimezone(ext(found["app"]).settings.timezone).date()
    uid = f"consultation-{found['lead_id']}@{DOMAIN}"
    titles = {"tentative": "Consultation with Fernleaf Studio (requested)",
              "visitor": "Free consultation with Fernleaf Studio"}
    for name, title in titles.items():  # as the visitor would: the confirmation, then the invitation
        path = folder / f"{name}.ics"
        path.write_text(found[name])
        khal(config, "import", "--batch", "-a", "consult", str(path))
        listed = khal(config, "list", "--format", "{uid}|{title}", "--day-format", "",
                      (start - timedelta(days=1)).isoformat(), (start + timedelta(days=2)).isoformat())
        assert [line for line in listed.splitlines() if line] == [f"{uid}|{title}"], name

KHAL_CONFIG = """\
[calendars]
[[consult]]
path = {folder}/calendar
type = calendar
[sqlite]
path = {folder}/khal.db
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = Europe/London
default_timezone = Europe/London
[default]
default_calendar = consult
"""


def test_a_request_booked_again_after_a_cancel_outranks_the_cancel(make_app, consultation):
    """Sales book a request, it is cancelled, sales book it again: same UID, a higher SEQUENCE."""
    from capture.booking import appointments
    from capture.core.clock import utcnow
    app = make_app()
    ext = app.extensions["capture"]
    client = app.test_client()
    slots = client.get("/api/slots?form=consultation&days=14").json["slots"]
    lead_id = client.post("/api/forms/consultation", json=consultation).json["id"]
    first = appointments.book_requested(ext.engine, ext.sales, lead_id, datetime.fromisoformat(slots[-1]["start"]),
                                        "sales@fernleaf.example", ext.mail_domain, utcnow()).booking
    ended = appointments.cancel(ext.engine, ext.sales, first["id"], "visitor", ext.mail_domain, utcnow())
    again = appointments.book_requested(ext.engine, ext.sales, lead_id, datetime.fromisoformat(slots[-2]["start"]),
                                        "sales@fernleaf.example", ext.mail_domain, utcnow()).booking
    assert again["sequence"] > ended["sequence"]
