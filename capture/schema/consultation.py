"""The consultation in sales.yml: who hosts it, how long it lasts, when it may be booked, how it happens."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from capture.schema import checks, worktime
from capture.schema.team import Member, seller

CONSULTATION_KEYS = ("hosts", "length", "buffer", "min_notice", "horizon_days", "step", "meeting")
MEETING_KEYS = ("kinds", "kind", "video_url", "details")
MEETING_KINDS = ("phone", "video")
# The line an invitation adds when sales.yml gives no details of its own (the number or the
# link itself is said by each message, from the booking).
MEETING_DETAILS = {"phone": "Please have your phone to hand at the time booked.",
                   "video": "Open the link a minute early to check your camera and sound."}
MAX_DETAILS = 300  # a sentence or two in an invitation, not a letter
MAX_HORIZON_DAYS = 365


@dataclass(frozen=True)
class Meeting:
    kinds: tuple[str, ...]  # phone, video: what a visitor may choose; the first when they say nothing
    details: dict[str, str]  # by kind: the extra line an invitation carries
    video_url: str | None = None  # when video is offered

    @property
    def kind(self) -> str:
        """The kind a booking is when the visitor chose none (only one is offered)."""
        return self.kinds[0]


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
    """How the consultation happens: the kinds a visitor may choose, a video link (https), the lines for invitations."""
    raw = checks.mapping({} if raw is None else raw, "consultation.meeting", MEETING_KEYS)
    kinds = _kinds(raw)
    url = raw.get("video_url")
    if "video" not in kinds and url is not None:
        raise ValueError("consultation.meeting.video_url: only kind video takes a video_url")
    if "video" in kinds:
        url = _video_url(url)
    return Meeting(kinds=kinds, details=_all_details(raw.get("details"), kinds), video_url=url)


def _kinds(raw: dict) -> tuple[str, ...]:
    """`kinds: [phone, video]`, or the older `kind: phone` as a list of one; phone if neither."""
    if "kind" in raw and "kinds" in raw:
        raise ValueError("consultation.meeting: give kind or kinds, not both")
    if "kinds" not in raw:
        kind = raw.get("kind", "phone")
        if kind not in MEETING_KINDS:
            raise ValueError(f"consultation.meeting.kind: unknown kind '{kind}' "
                             f"(use {', '.join(MEETING_KINDS)})")
        return (kind,)
    listed = raw["kinds"]
    if not isinstance(listed, list) or not listed:
        raise ValueError(f"consultation.meeting.kinds: expected a list of {', '.join(MEETING_KINDS)}")
    for kind in listed:
        if kind not in MEETING_KINDS:
            raise ValueError(f"consultation.meeting.kinds: unknown kind '{kind}' "
                             f"(use {', '.join(MEETING_KINDS)})")
        if listed.count(kind) > 1:
            raise ValueError(f"consultation.meeting.kinds: '{kind}' is listed twice")
    return tuple(listed)


def _all_details(raw, kinds: tuple[str, ...]) -> dict[str, str]:
    """Each kind's line: one text for every kind, or a mapping by kind; a default for each left out."""
    if isinstance(raw, dict):
        checks.mapping(raw, "consultation.meeting.details", kinds)
        return {kind: _details(raw.get(kind), kind, f"consultation.meeting.details.{kind}") for kind in kinds}
    return {kind: _details(raw, kind, "consultation.meeting.details") for kind in kinds}


def _video_url(raw) -> str:
    """An https link with a host name and no spaces."""
    if raw is None or raw == "":
        raise ValueError("consultation.meeting.video_url: kind video needs a video_url")
    url = str(raw).strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"consultation.meeting.video_url: '{raw}' is not an https:// link")
    return url


def _details(raw, kind: str, where: str) -> str:
    """The invitation's extra line about the meeting, on one line."""
    if raw is None:
        return MEETING_DETAILS[kind]
    text = " ".join(str(raw).split()) if isinstance(raw, str) else ""
    if not text:
        raise ValueError(f"{where}: expected a short text for invitations")
    if len(text) > MAX_DETAILS:
        raise ValueError(f"{where}: longer than {MAX_DETAILS} characters")
    return text
