"""What the visitor is shown the moment they have booked: the "Booked" card's facts.

One dict, formatted here, for both ways of showing it: the API's 201 JSON (`booking`), which
the site's script draws as the card, and the Booked page a browser without the script is sent
to (booked.py). Times are in the visitor's zone, naming it, plus the studio's when that differs;
the links add the meeting to Google or Outlook, download the same invitation the email carries,
and change or cancel it (the links in the email).
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from capture.booking import meeting
from capture.booking.messages import SUMMARY
from capture.core import tokens
from capture.core.formatting import wall_time
from capture.core.urls import external
from capture.core.zones import shown_zone

GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK = "https://outlook.live.com/calendar/0/deeplink/compose"
PAGE = "/actions/booked/{token}"  # the Booked page (booked.py); its .ics under it
INVITATION = PAGE + "/invitation.ics"


def details(booking: dict, lead: dict, *, sales, settings) -> dict:
    """The Booked card of `booking` for its visitor (strings formatted for people, None when absent)."""
    studio = settings.timezone
    tz = shown_zone(booking.get("visitor_zone"), studio)
    how = meeting.of(booking, lead, sales.consultation.meeting)
    start, end = booking["starts_at"], booking["ends_at"]
    host = sales.member(booking["host"])
    minutes = int((end - start).total_seconds() // 60)
    what = f"Free {minutes}-minute consultation by {meeting.noun(how.kind)}"
    email = str(lead.get("email") or "")
    links = {link["action"]: link["url"] for link in
             tokens.booking_links(settings.secret_key, settings.public_url, booking["id"], email)}
    about = "\n\n".join(p for p in (meeting.to_visitor(how), how.details) if p)
    where = meeting.location(how)
    return {
        "what": what, "kind": how.kind, "starts_at": utc(start), "ends_at": utc(end), "time_zone": tz.key,
        "when": wall_time(start, end, tz),
        "studio_when": None if tz.key == studio.key else wall_time(start, end, studio),
        "host": host.name if host else booking["host"], "how": meeting.on_card(how), "video_url": how.video_url,
        "invitation_to": email or None,
        "calendar": {"google": google(SUMMARY, start, end, about, where),
                     "outlook": outlook(SUMMARY, start, end, about, where),
                     "ics": external(settings.public_url, INVITATION.format(token=page_token(booking, lead, settings)))},
        "manage": {"move": links.get("move"), "cancel": links.get("cancel")},
    }


def page_url(booking: dict, lead: dict, settings) -> str:
    """The Booked page of `booking`, where a browser without the site's script is sent."""
    return external(settings.public_url, PAGE.format(token=page_token(booking, lead, settings)))


def page_token(booking: dict, lead: dict, settings) -> str:
    """The booking's signed manage token (its 'change the time' one): it shows, it never acts by itself."""
    return tokens.booking_token(settings.secret_key, booking["id"], "move", str(lead.get("email") or ""))


def utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z: 2026-12-14T09:00:00Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def google(title: str, start: datetime, end: datetime, about: str, where: str) -> str:
    """Google Calendar's 'add event' link (dates in UTC, YYYYMMDDTHHMMSSZ/…)."""
    stamp = "%Y%m%dT%H%M%SZ"
    dates = f"{start.astimezone(timezone.utc):{stamp}}/{end.astimezone(timezone.utc):{stamp}}"
    query = {"action": "TEMPLATE", "text": title, "dates": dates, "details": about, "location": where}
    return f"{GOOGLE}?{urlencode(query, quote_via=quote)}"


def outlook(title: str, start: datetime, end: datetime, about: str, where: str) -> str:
    """Outlook.com's 'new event' link (start and end in UTC, ISO 8601)."""
    query = {"subject": title, "startdt": utc(start), "enddt": utc(end), "body": about, "location": where}
    return f"{OUTLOOK}?{urlencode(query, quote_via=quote)}"
