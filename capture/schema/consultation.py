"""The consultation in sales.yml: who hosts it, how long it lasts, when it may be booked, how it happens."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from capture.schema import checks, worktime
from capture.schema.team import Member, seller

CONSULTATION_KEYS = ("hosts", "length", "buffer", "min_notice", "horizon_days", "step", "meeting")
MEETING_KEYS = ("kind", "video_url", "details")
MEETING_KINDS = ("phone", "video")
# What an invitation says when sales.yml gives no details of its own.
MEETING_DETAILS = {"phone": "We will call you on the number you gave.",
                   "video": "Join the video call with the link in this invitation."}
MAX_DETAILS = 300  # a sentence or two in an invitation, not a letter
MAX_HORIZON_DAYS = 365


@dataclass(frozen=True)
class Meeting:
    kind: str  # phone or video
    details: str
    video_url: str | None = None


@dataclass(frozen=True)
class Consultation:
    hosts: tuple[str, ...]  # emails, in the order ties are broken
    length: timedelta
    buffer: timedelta  # kept free before and after each booked meeting
    min_notice: timedelta  # working time
    horizon_days: int  # today and the days after it, this many in all
    step: timedelta  # how often slots start within a working span
    meeting: Meeting


def parse_consultation(raw, team: tuple[Member, ...], hours: worktime.Hours) -> Consultation:
    """Who hosts a consultation, how long it lasts and when it may be booked."""
    raw = checks.mapping({} if raw is None else raw, "consultation", CONSULTATION_KEYS)
    length = checks.minutes(raw.get("length", "30m"), "consultation.length")
    longest = max(end - start for spans in hours.values() for start, end in spans)
    if length > timedelta(minutes=longest):
        raise ValueError(f"consultation.length: {length // timedelta(minutes=1)} minutes is longer "
                         "than every working span in hours, so no slot could be offered")
    return Consultation(
        hosts=_parse_hosts(raw.get("hosts"), team), length=length,
        # No buffer unless asked: the file says how much time to keep free.
        buffer=checks.minutes(raw.get("buffer", "0m"), "consultation.buffer", allow_zero=True),
        min_notice=checks.duration(raw.get("min_notice", "2h"), "consultation.min_notice", allow_zero=True),
        horizon_days=_horizon(raw.get("horizon_days", 21)),
        step=checks.minutes(raw["step"], "consultation.step") if "step" in raw else length,
        meeting=_parse_meeting(raw.get("meeting")))


# Booking makes the host the lead's owner, and only sellers may own leads.
HOST_MUST_SELL = " (the host of a consultation owns the lead)"


def _parse_hosts(raw, team: tuple[Member, ...]) -> tuple[str, ...]:
    """The hosts' addresses: as listed, else every member with the role host."""
    if raw is None:
        emails = tuple(m.email for m in team if "host" in m.roles)
        if not emails:
            raise ValueError("consultation.hosts: nobody has the role host; give someone "
                             "the role or list the hosts here")
        for email in emails:
            seller(email, team, "consultation.hosts", HOST_MUST_SELL)
        return emails
    if not isinstance(raw, list) or not raw:
        raise ValueError("consultation.hosts: expected a list of team members' emails")
    emails = tuple(seller(value, team, f"consultation.hosts[{i}]", HOST_MUST_SELL)
                   for i, value in enumerate(raw))
    if len(set(emails)) != len(emails):
        raise ValueError("consultation.hosts: a host is listed twice")
    return emails


def _horizon(raw) -> int:
    """How many days, today included, a visitor may book ahead."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_HORIZON_DAYS:
        raise ValueError(f"consultation.horizon_days: '{raw}' is not a whole number "
                         f"of days from 1 to {MAX_HORIZON_DAYS}")
    return raw


def _parse_meeting(raw) -> Meeting:
    """How the consultation happens: a phone call, or a video link (https)."""
    raw = checks.mapping({} if raw is None else raw, "consultation.meeting", MEETING_KEYS)
    kind = raw.get("kind", "phone")
    if kind not in MEETING_KINDS:
        raise ValueError(f"consultation.meeting.kind: unknown kind '{kind}' "
                         f"(use {', '.join(MEETING_KINDS)})")
    url = raw.get("video_url")
    if kind != "video" and url is not None:
        raise ValueError("consultation.meeting.video_url: only kind video takes a video_url")
    if kind == "video":
        url = _video_url(url)
    return Meeting(kind=kind, details=_details(raw.get("details"), kind), video_url=url)


def _video_url(raw) -> str:
    """An https link with a host name and no spaces."""
    if raw is None or raw == "":
        raise ValueError("consultation.meeting.video_url: kind video needs a video_url")
    url = str(raw).strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"consultation.meeting.video_url: '{raw}' is not an https:// link")
    return url


def _details(raw, kind: str) -> str:
    """The invitation's line on how to join, on one line."""
    if raw is None:
        return MEETING_DETAILS[kind]
    text = " ".join(str(raw).split()) if isinstance(raw, str) else ""
    if not text:
        raise ValueError("consultation.meeting.details: expected a short text for invitations")
    if len(text) > MAX_DETAILS:
        raise ValueError(f"consultation.meeting.details: longer than {MAX_DETAILS} characters")
    return text
