"""The sales settings: loading and checking sales.yml.

Who sells, when they work, what a lead is promised and why leads are lost.
Like forms.py this imports nothing from Flask: the app, the worker and the
CLI all read the same `Sales` object. Every error is one line naming the
file and the key, so a typo is found without reading a traceback.
"""
from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import holidays
import yaml
from email_validator import EmailNotValidError, validate_email

from capture.core import durations as core_durations
from capture.schema import worktime

ROLES = ("sales", "marketing", "manager", "host")
# Roles that may own a lead.
SELLING = frozenset({"sales", "manager"})
STRATEGIES = ("first_notified", "round_robin")
DEFAULT_STRATEGY = "first_notified"
KEYS = ("team", "hours", "holidays", "response", "owners", "pipeline", "consultation", "webhooks")
MEMBER_KEYS = ("name", "email", "roles")
HOLIDAY_KEYS = ("calendar", "closed")
RESPONSE_KEYS = ("first_contact", "remind_after", "escalate_after")
# What the site promises when sales.yml says nothing: a reply within one working hour, the owner
# nudged after 30 minutes (or at escalation, if that comes sooner), escalation at the promise.
DEFAULT_FIRST_CONTACT = timedelta(minutes=60)
DEFAULT_REMIND_AFTER = timedelta(minutes=30)
OWNER_KEYS = ("strategy", "members")
PIPELINE_KEYS = ("lost_reasons", "currency")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REASON_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
CONSULTATION_KEYS = ("hosts", "length", "buffer", "min_notice", "horizon_days", "step", "meeting")
MEETING_KEYS = ("kind", "video_url", "details")
MEETING_KINDS = ("phone", "video")
# What an invitation says when sales.yml gives no details of its own.
MEETING_DETAILS = {"phone": "We will call you on the number you gave.",
                   "video": "Join the video call with the link in this invitation."}
MAX_DETAILS = 300  # a sentence or two in an invitation, not a letter
MAX_HORIZON_DAYS = 365
WEBHOOK_KEYS = ("name", "url", "events")
# What an endpoint may subscribe to (webhooks.py sends them).
WEBHOOK_EVENTS = ("lead.created", "lead.status_changed", "booking.created", "booking.cancelled",
                  "booking.moved", "lead.erased")
ENDPOINT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


@dataclass(frozen=True)
class Endpoint:
    """A receiver of outgoing webhooks; its secret is a setting, never in sales.yml."""
    name: str
    url: str
    events: frozenset[str]

    @property
    def secret_variable(self) -> str:
        """The environment variable holding this endpoint's signing secret."""
        return f"CAPTURE_WEBHOOK_SECRET_{self.name.upper()}"


class SalesError(ValueError):
    """sales.yml is wrong; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Member:
    name: str
    email: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Response:
    first_contact: timedelta
    remind_after: timedelta
    escalate_after: timedelta


@dataclass(frozen=True)
class OwnerRule:
    strategy: str
    members: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Sales:
    team: tuple[Member, ...]
    calendar: worktime.Calendar
    response: Response
    owners: dict[str, OwnerRule]
    fallback_owner: str
    lost_reasons: tuple[str, ...]
    currency: str
    hours_text: str
    source: str = "sales.yml"
    consultation: Consultation | None = None  # None: no section, no booking
    webhooks: tuple[Endpoint, ...] = ()  # none: no section

    def member(self, email: str) -> Member | None:
        """The team member with this address, whatever its case."""
        wanted = email.strip().lower()
        return next((m for m in self.team if m.email == wanted), None)

    def with_role(self, role: str) -> tuple[Member, ...]:
        """The members who have `role`, in the file's order."""
        if role not in ROLES:
            raise ValueError(f"unknown role '{role}' (roles are {', '.join(ROLES)})")
        return tuple(m for m in self.team if role in m.roles)

    def owner_rule(self, form_id: str) -> OwnerRule:
        """How a lead from this form gets its owner (first_notified unless listed)."""
        return self.owners.get(form_id, OwnerRule(DEFAULT_STRATEGY))


# --- loading -----------------------------------------------------------------

def load_sales(path: str | Path, tz: ZoneInfo, form_ids: Iterable[str] = ()) -> Sales:
    """Read and check sales.yml; raise SalesError naming the file and key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SalesError(f"{path}: cannot read the sales settings ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise SalesError(f"{path}: not valid YAML ({_yaml_where(exc)})") from None
    return parse_sales(raw, tz, form_ids, source=str(path))


def parse_sales(raw, tz: ZoneInfo, form_ids: Iterable[str] = (), source: str = "sales.yml") -> Sales:
    """Build Sales from already-parsed YAML data."""
    try:
        return _parse(raw, tz, tuple(form_ids), source)
    except ValueError as exc:
        # Helpers say "key: problem"; the file name is added once, here.
        raise SalesError(f"{source}: {exc}") from None


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    return f"{problem} at line {mark.line + 1}" if mark else problem


def _parse(raw, tz: ZoneInfo, form_ids: tuple[str, ...], source: str) -> Sales:
    """Every section in turn; ValueError('key: problem') for the first mistake."""
    _mapping(raw, "", KEYS, required=("team", "hours", "pipeline"))
    team = _parse_team(raw["team"])
    hours = worktime.parse_hours(raw["hours"], "hours")
    closed = _closures(raw.get("holidays"))
    try:
        calendar = worktime.Calendar(hours, tz, closed)
    except ValueError as exc:
        raise ValueError(f"hours: {exc}") from None
    lost_reasons, currency = _parse_pipeline(raw["pipeline"])
    # The key alone turns booking on: an empty `consultation:` means every default.
    consultation = None
    if "consultation" in raw:
        consultation = _parse_consultation(raw["consultation"], team, hours)
    return Sales(team=team, calendar=calendar, response=_parse_response(raw.get("response")),
                 owners=_parse_owners(raw.get("owners"), team, form_ids),
                 fallback_owner=_fallback_owner(team), lost_reasons=lost_reasons,
                 currency=currency, hours_text=worktime.describe_hours(hours), source=source,
                 consultation=consultation, webhooks=_parse_webhooks(raw.get("webhooks")))


def _mapping(raw, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """`raw` checked to be a mapping with only `allowed` keys and every `required` one."""
    if not isinstance(raw, dict):
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}expected a mapping with {', '.join(allowed)}")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ValueError(f"{_join(where, unknown[0])}: unknown key (use {', '.join(allowed)})")
    missing = [k for k in required if raw.get(k) in (None, "", [], {})]
    if missing:
        raise ValueError(f"{_join(where, missing[0])}: is missing or empty")
    return raw


def _join(where: str, key: str) -> str:
    """The key path of `key` inside `where` ('' is the top of the file)."""
    return f"{where}.{key}" if where else key


def _parse_team(raw) -> tuple[Member, ...]:
    """The team list: each member once, and someone who can own a lead."""
    if not isinstance(raw, list):
        raise ValueError("team: expected a list of members with name, email and roles")
    team = tuple(_parse_member(item, f"team[{i}]") for i, item in enumerate(raw))
    emails = [m.email for m in team]
    for i, email in enumerate(emails):
        if email in emails[:i]:
            raise ValueError(f"team[{i}].email: '{email}' is listed twice")
    if not any(m.roles & SELLING for m in team):
        raise ValueError("team: needs at least one member with the role sales or manager")
    return team


def _parse_member(raw, where: str) -> Member:
    _mapping(raw, where, MEMBER_KEYS, required=MEMBER_KEYS)
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}.name: expected the member's name")
    roles = raw["roles"]
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list):
        raise ValueError(f"{where}.roles: expected a list of roles ({', '.join(ROLES)})")
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"{where}.roles: unknown role '{role}' (use {', '.join(ROLES)})")
    return Member(name=name.strip(), email=_email(raw["email"], f"{where}.email"),
                  roles=frozenset(roles))


def _email(raw, where: str) -> str:
    """A checked address, lower-cased so lookups ignore case."""
    try:
        return validate_email(str(raw), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{where}: '{raw}' is not an email address ({exc})") from None


def _closures(raw) -> _Closed:
    """The days the business is shut: a country's public holidays plus listed dates."""
    if raw is None:
        return _Closed(None, frozenset())
    _mapping(raw, "holidays", HOLIDAY_KEYS)
    closed = raw.get("closed") or []
    if not isinstance(closed, list):
        raise ValueError("holidays.closed: expected a list of dates like 2026-12-24")
    extra = frozenset(_date(value, f"holidays.closed[{i}]") for i, value in enumerate(closed))
    code = raw.get("calendar")
    return _Closed(None if code is None else _country(code), extra)


def _country(code) -> holidays.HolidayBase:
    """The holidays package's calendar for 'GB' or 'GB-ENG' (country, then subdivision)."""
    country, _, subdiv = str(code).partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError as exc:
        raise ValueError(f"holidays.calendar: '{code}' is not a known holiday calendar ({exc})") from None


def _date(value, where: str) -> date:
    # YAML reads an unquoted 2026-12-24 as a date already; a quoted one is text.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        if isinstance(value, str) and DATE_RE.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"{where}: '{value}' is not a date like 2026-12-24")


class _Closed:
    """Whether a date is a holiday: the calendar's year is loaded on first use."""

    def __init__(self, country: holidays.HolidayBase | None, extra: frozenset[date]):
        self.country = country
        self.extra = extra
        # A holidays object fills in a year on the first lookup; threads must not see it half-filled.
        self.lock = threading.Lock()

    def __call__(self, day: date) -> bool:
        if day in self.extra:
            return True
        if self.country is None:
            return False
        with self.lock:
            return day in self.country


def parse_duration(value, where: str, allow_zero: bool = False) -> timedelta:
    """A duration like '45s', '30m', '1h' or '2d' (core.durations' grammar); zero only if allowed."""
    try:
        amount = core_durations.parse_duration(value)  # a unit is required here: '15' says nothing
    except ValueError:
        raise ValueError(f"{where}: '{value}' is not a duration like 30m, 1h or 2d (s, m, h or d)") from None
    if not amount and not allow_zero:
        raise ValueError(f"{where}: must be longer than zero")
    return amount


def _parse_response(raw) -> Response:
    """The promise to a lead: first contact, a reminder to the owner, escalation.

    Each key may be left out (the whole section too): 60m, 30m and first_contact.
    """
    raw = {} if raw is None else raw
    _mapping(raw, "response", RESPONSE_KEYS)
    first = DEFAULT_FIRST_CONTACT
    if raw.get("first_contact") is not None:
        first = parse_duration(raw["first_contact"], "response.first_contact")
    escalate = first
    if raw.get("escalate_after") is not None:
        escalate = parse_duration(raw["escalate_after"], "response.escalate_after")
    if raw.get("remind_after") is None:
        return Response(first_contact=first, remind_after=min(DEFAULT_REMIND_AFTER, escalate),
                        escalate_after=escalate)
    remind = parse_duration(raw["remind_after"], "response.remind_after")
    if remind > escalate:
        raise ValueError("response.remind_after: must not be later than escalate_after "
                         "(which defaults to first_contact)")
    return Response(first_contact=first, remind_after=remind, escalate_after=escalate)


def _parse_owners(raw, team: tuple[Member, ...], form_ids: tuple[str, ...]) -> dict[str, OwnerRule]:
    """Owner rules by form id; known forms not listed get first_notified."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError("owners: expected a mapping of form ids to a strategy")
    owners = {str(fid): _parse_owner(spec, team, f"owners.{fid}") for fid, spec in raw.items()}
    for fid in owners:
        if form_ids and fid not in form_ids:
            raise ValueError(f"owners.{fid}: there is no form '{fid}' (forms: {', '.join(form_ids)})")
    return {**{fid: OwnerRule(DEFAULT_STRATEGY) for fid in form_ids}, **owners}


def _parse_owner(raw, team: tuple[Member, ...], where: str) -> OwnerRule:
    if isinstance(raw, str):
        raw = {"strategy": raw}
    _mapping(raw, where, OWNER_KEYS, required=("strategy",))
    strategy = raw["strategy"]
    if strategy not in STRATEGIES:
        raise ValueError(f"{where}.strategy: unknown strategy '{strategy}' (use {', '.join(STRATEGIES)})")
    members = raw.get("members") or []
    if strategy != "round_robin":
        if members:
            raise ValueError(f"{where}.members: only round_robin takes members")
        return OwnerRule(strategy)
    if not isinstance(members, list) or not members:
        raise ValueError(f"{where}.members: round_robin needs a list of team members")
    emails = tuple(_owner(value, team, f"{where}.members[{i}]") for i, value in enumerate(members))
    if len(set(emails)) != len(emails):
        raise ValueError(f"{where}.members: a member is listed twice")
    return OwnerRule(strategy, emails)


def _owner(raw, team: tuple[Member, ...], where: str) -> str:
    """The address of a team member who may own leads."""
    email = _email(raw, where)
    member = next((m for m in team if m.email == email), None)
    if member is None:
        raise ValueError(f"{where}: '{raw}' is not in the team")
    if not member.roles & SELLING:
        raise ValueError(f"{where}: '{raw}' needs the role sales or manager to own leads")
    return email


def _fallback_owner(team: tuple[Member, ...]) -> str:
    """Who owns a lead nobody else can: the first manager, else the first seller."""
    for role in ("manager", "sales"):
        for member in team:
            if role in member.roles:
                return member.email
    raise AssertionError("unreachable: _parse_team requires a seller")


def _parse_pipeline(raw) -> tuple[tuple[str, ...], str]:
    """Lost reasons (with 'other') and the currency deal values are in."""
    _mapping(raw, "pipeline", PIPELINE_KEYS, required=PIPELINE_KEYS)
    reasons = raw["lost_reasons"]
    if not isinstance(reasons, list):
        raise ValueError("pipeline.lost_reasons: expected a list like [price, timing, other]")
    for reason in reasons:
        if not isinstance(reason, str) or not REASON_RE.match(reason):
            raise ValueError(f"pipeline.lost_reasons: '{reason}' must be lower-case letters, digits and '_'")
    if len(set(reasons)) != len(reasons):
        raise ValueError("pipeline.lost_reasons: a reason is listed twice")
    if "other" not in reasons:
        raise ValueError("pipeline.lost_reasons: must include 'other'")
    currency = raw["currency"]
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        raise ValueError(f"pipeline.currency: '{currency}' is not an ISO 4217 code like GBP")
    return tuple(reasons), currency


def _parse_consultation(raw, team: tuple[Member, ...], hours: worktime.Hours) -> Consultation:
    """Who hosts a consultation, how long it lasts and when it may be booked."""
    raw = _mapping({} if raw is None else raw, "consultation", CONSULTATION_KEYS)
    length = _minutes(raw.get("length", "30m"), "consultation.length")
    longest = max(end - start for spans in hours.values() for start, end in spans)
    if length > timedelta(minutes=longest):
        raise ValueError(f"consultation.length: {length // timedelta(minutes=1)} minutes is longer "
                         "than every working span in hours, so no slot could be offered")
    return Consultation(
        hosts=_parse_hosts(raw.get("hosts"), team), length=length,
        # No buffer unless asked: the file says how much time to keep free.
        buffer=_minutes(raw.get("buffer", "0m"), "consultation.buffer", allow_zero=True),
        min_notice=parse_duration(raw.get("min_notice", "2h"), "consultation.min_notice",
                                  allow_zero=True),
        horizon_days=_horizon(raw.get("horizon_days", 21)),
        step=_minutes(raw["step"], "consultation.step") if "step" in raw else length,
        meeting=_parse_meeting(raw.get("meeting")))


def _minutes(value, where: str, allow_zero: bool = False) -> timedelta:
    """A duration in whole minutes: slots start on the minute."""
    amount = parse_duration(value, where, allow_zero)
    if amount % timedelta(minutes=1):
        raise ValueError(f"{where}: '{value}' must be whole minutes")
    return amount


def _parse_hosts(raw, team: tuple[Member, ...]) -> tuple[str, ...]:
    """The hosts' addresses: as listed, else every member with the role host."""
    if raw is None:
        emails = tuple(m.email for m in team if "host" in m.roles)
        if not emails:
            raise ValueError("consultation.hosts: nobody has the role host; give someone "
                             "the role or list the hosts here")
        for email in emails:
            _host(email, team, "consultation.hosts")
        return emails
    if not isinstance(raw, list) or not raw:
        raise ValueError("consultation.hosts: expected a list of team members' emails")
    emails = tuple(_host(value, team, f"consultation.hosts[{i}]") for i, value in enumerate(raw))
    if len(set(emails)) != len(emails):
        raise ValueError("consultation.hosts: a host is listed twice")
    return emails


def _host(raw, team: tuple[Member, ...], where: str) -> str:
    """The address of a team member who may host, and so own, a booked lead."""
    email = _email(raw, where)
    member = next((m for m in team if m.email == email), None)
    if member is None:
        raise ValueError(f"{where}: '{raw}' is not in the team")
    # Booking makes the host the lead's owner, and only sellers may own leads.
    if not member.roles & SELLING:
        raise ValueError(f"{where}: '{raw}' needs the role sales or manager "
                         "(the host of a consultation owns the lead)")
    return email


def _horizon(raw) -> int:
    """How many days, today included, a visitor may book ahead."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_HORIZON_DAYS:
        raise ValueError(f"consultation.horizon_days: '{raw}' is not a whole number "
                         f"of days from 1 to {MAX_HORIZON_DAYS}")
    return raw


def _parse_meeting(raw) -> Meeting:
    """How the consultation happens: a phone call, or a video link (https)."""
    raw = _mapping({} if raw is None else raw, "consultation.meeting", MEETING_KEYS)
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


def _parse_webhooks(raw) -> tuple[Endpoint, ...]:
    """The webhook endpoints: each with a unique name, an https URL and the events it wants."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError("webhooks: expected a list of endpoints with name, url and events")
    found = tuple(_parse_endpoint(item, f"webhooks[{i}]") for i, item in enumerate(raw))
    names = [e.name for e in found]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValueError(f"webhooks[{i}].name: '{name}' is listed twice")
    return found


def _parse_endpoint(raw, where: str) -> Endpoint:
    _mapping(raw, where, WEBHOOK_KEYS, required=WEBHOOK_KEYS)
    name = raw["name"]
    if not isinstance(name, str) or not ENDPOINT_NAME_RE.match(name):
        raise ValueError(f"{where}.name: '{name}' must be lower-case letters, digits and '_' "
                         "(it names the secret's variable, CAPTURE_WEBHOOK_SECRET_NAME)")
    events = raw["events"]
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list):
        raise ValueError(f"{where}.events: expected a list of events ({', '.join(WEBHOOK_EVENTS)})")
    for event in events:
        if event not in WEBHOOK_EVENTS:
            raise ValueError(f"{where}.events: unknown event '{event}' (use {', '.join(WEBHOOK_EVENTS)})")
    if len(set(events)) != len(events):
        raise ValueError(f"{where}.events: an event is listed twice")
    return Endpoint(name=name, url=_webhook_url(raw["url"], f"{where}.url"), events=frozenset(events))


def _webhook_url(raw, where: str) -> str:
    """An https URL (plain http only to this machine, for tests), with no credentials in it."""
    url = str(raw).strip()
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # .port raises ValueError for one that is not a number up to 65535
            raise ValueError
    except ValueError:
        raise ValueError(f"{where}: '{raw}' is not a URL") from None
    if not parts.hostname or parts.scheme not in ("https", "http") or any(c.isspace() for c in url):
        raise ValueError(f"{where}: '{raw}' is not an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{where}: put no credentials in the URL (the signature authenticates us)")
    if parts.fragment:
        raise ValueError(f"{where}: '{raw}' has a #fragment, which is never sent")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError(f"{where}: '{raw}' must use https:// (plain http only to this machine)")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
