"""Every iCalendar file the service sends: a consultation asked for, booked, moved or cancelled.

A consultation is one event with a stable UID; every change sends the whole
event again with a higher SEQUENCE (RFC 5546 iTIP), METHOD REQUEST while it
stands and CANCEL when it is called off. A request without a booked time
first reaches the visitor as a tentative PUBLISH event (`tentative`) under the
UID the booking made from that request keeps (`consultation_uid`), so a
calendar that imported it replaces it instead of showing two events.
Everything is built with the icalendar package, never as hand-written text,
so visitor text is escaped, parameters are quoted and lines are folded by the
library. Putting it into a message is mail.py's job: `CONTENT_TYPE` and
`content_params` say how.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

from capture.booking.meeting import VIDEO, How, location
from capture.core.formatting import wall_time
from capture.delivery.mail import one_line

PRODID = "-//Fernleaf Studio//Capture//EN"
CONTENT_TYPE = "text/calendar"
METHODS = ("REQUEST", "CANCEL")  # of an invitation
PUBLISH = "PUBLISH"  # a tentative event: nobody is invited yet
STATUS = {"REQUEST": "CONFIRMED", "CANCEL": "CANCELLED", PUBLISH: "TENTATIVE"}
ORGANIZER_NAME = "Fernleaf Studio"
REQUESTED_SUMMARY = f"Consultation with {ORGANIZER_NAME}"
MAX_NAME = 200
# Line breaks and other controls have no place in a CN parameter.


def invitation(*, uid: str, sequence: int, method: str, start: datetime, end: datetime,
               organizer: tuple[str, str], attendee: tuple[str, str], how: How, line: str, tz: ZoneInfo,
               summary: str, stamp: datetime, description: str = "") -> bytes:
    """The invitation (REQUEST) or cancellation (CANCEL) of one booked consultation.

    `organizer` and `attendee` are (name, email); `how` is how it is held (booking/meeting.py)
    and `line` what the reader is told about it, in their voice; `tz` the reader's zone,
    which the description's time is written in.
    """
    _check_method(method)
    _check_times(start, end, stamp)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise ValueError("sequence must be a whole number from 0")
    event = _event(uid, sequence, method, start, end, organizer, attendee,
                   how, line, tz, summary, stamp, description)
    return _calendar(method, tz, start, event).to_ical()


def tentative(*, uid: str, start: datetime, end: datetime, organizer: str, tz: ZoneInfo,
              summary: str, stamp: datetime, description: str = "") -> bytes:
    """The time a visitor asked for, as a tentative event to keep free (METHOD PUBLISH).

    `organizer` is the address that answers the request (the form's sales inbox).
    The booking made from the request sends a REQUEST with the same `uid`, which
    replaces this event in the visitor's calendar.
    """
    _check_times(start, end, stamp)
    event = _timed(uid, 0, PUBLISH, start, end, stamp, summary)
    event.add("organizer", _address(ORGANIZER_NAME, organizer))
    event.add("description", "\n\n".join(p for p in (wall_time(start, end, tz), description) if p))
    return _calendar(PUBLISH, tz, start, event).to_ical()


def requested(lead_id: str, start: datetime, end: datetime, tz: ZoneInfo, *, organizer: str, form_title: str,
              domain: str, stamp: datetime) -> bytes:
    """The time a visitor asked for on `form_title`, as the tentative event their confirmation carries.

    Under `consultation_uid`, which the booking sales make from the request keeps.
    """
    return tentative(uid=consultation_uid(lead_id, domain), start=start, end=end, organizer=organizer, tz=tz,
                     stamp=stamp, summary=f"{REQUESTED_SUMMARY} (requested)",
                     description=f"{form_title}: the time you asked for. We will confirm it by email.")


def consultation_uid(lead_id: str, domain: str) -> str:
    """The UID of the consultation a lead asked for, and of the booking sales make from it."""
    return f"consultation-{lead_id}@{domain}"


def booking_uid(booking_id: str, domain: str) -> str:
    """The UID of a consultation the visitor booked themselves on the website."""
    return f"booking-{booking_id}@{domain}"


def content_params(method: str) -> dict:
    """The Content-Type parameters of the calendar part: clients act on `method`."""
    if method != PUBLISH:
        _check_method(method)
    return {"method": method}


def _calendar(method: str, tz: ZoneInfo, start: datetime, event: Event) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add("calscale", "GREGORIAN")
    # Google and Apple read X-WR-TIMEZONE as the calendar's zone; others use the VTIMEZONE.
    cal.add("x-wr-timezone", tz.key)
    cal.add_component(_vtimezone(tz.key, start.astimezone(tz).year))
    cal.add_component(event)
    return cal


def _timed(uid, sequence, method, start, end, stamp, summary) -> Event:
    """What every event here has: who it is, when, and whether the time is taken."""
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    # Stored in UTC, as every time here is; the reader's zone is shown in
    # the description and the VTIMEZONE, so no client has to resolve a TZID
    # (some ignore an attached VTIMEZONE and guess from the name).
    event.add("dtstamp", stamp.astimezone(timezone.utc))
    event.add("dtstart", start.astimezone(timezone.utc))
    event.add("dtend", end.astimezone(timezone.utc))
    event.add("summary", summary)
    event.add("status", STATUS[method])
    event.add("transp", "OPAQUE")
    return event


def _event(uid, sequence, method, start, end, organizer, attendee, how, line, tz,
           summary, stamp, description) -> Event:
    event = _timed(uid, sequence, method, start, end, stamp, summary)
    event.add("organizer", _address(*organizer))
    # The visitor booked the slot themselves: already accepted, no reply wanted.
    # A cancellation keeps the attendee so their client finds whose event it was.
    if attendee[1]:  # an erased visitor has no address: the host's CANCEL names nobody
        event.add("attendee", _address(*attendee, role="REQ-PARTICIPANT", rsvp=False,
                                       partstat="ACCEPTED" if method == "REQUEST" else None))
    event.add("location", location(how))
    if how.kind == VIDEO and how.video_url:
        event.add("url", how.video_url)
    parts = (line, how.details, wall_time(start, end, tz), description)
    event.add("description", "\n\n".join(p for p in parts if p))
    return event


def _address(name: str, email: str, **params) -> vCalAddress:
    """A mailto: address with a literal CN (the library quotes and RFC 6868-escapes it)."""
    cn = one_line(name, MAX_NAME)
    return vCalAddress.new(email.strip(), cn=cn or None, **params)


@lru_cache(maxsize=32)
def _vtimezone(zone: str, year: int) -> Timezone:
    """The business zone around `year`: enough to show it, small enough to mail.

    Slow to build, so built once per zone and year; never modified after.
    """
    return Timezone.from_tzinfo(ZoneInfo(zone), zone, date(year - 1, 1, 1), date(year + 2, 1, 1))


def _check_times(start: datetime, end: datetime, stamp: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None or stamp.tzinfo is None:
        # A naive time would be written as "floating": a different instant in every zone.
        raise ValueError("start, end and stamp must be aware datetimes")
    if end <= start:
        raise ValueError("end must be after start")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
