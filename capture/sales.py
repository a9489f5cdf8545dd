"""The sales settings: loading and checking sales.yml.

Who sells, when they work, what a lead is promised and why leads are lost.
Like forms.py this imports nothing from Flask: the app, the worker and the
CLI all read the same `Sales` object. Every error is one line naming the
file and the key, so a typo is found without reading a traceback.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import yaml
from email_validator import EmailNotValidError, validate_email

from . import worktime

ROLES = ("sales", "marketing", "manager", "host")
# Roles that may own a lead.
SELLING = frozenset({"sales", "manager"})
STRATEGIES = ("first_notified", "round_robin")
DEFAULT_STRATEGY = "first_notified"
KEYS = ("team", "hours", "holidays", "response", "owners", "pipeline")
MEMBER_KEYS = ("name", "email", "roles")
HOLIDAY_KEYS = ("calendar", "closed")
RESPONSE_KEYS = ("first_contact", "remind_after", "escalate_after")
OWNER_KEYS = ("strategy", "members")
PIPELINE_KEYS = ("lost_reasons", "currency")
DURATION_RE = re.compile(r"^(\d+)\s*([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REASON_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


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
    _mapping(raw, "", KEYS, required=("team", "hours", "response", "pipeline"))
    team = _parse_team(raw["team"])
    hours = worktime.parse_hours(raw["hours"], "hours")
    closed = _closures(raw.get("holidays"))
    try:
        calendar = worktime.Calendar(hours, tz, closed)
    except ValueError as exc:
        raise ValueError(f"hours: {exc}") from None
    lost_reasons, currency = _parse_pipeline(raw["pipeline"])
    return Sales(team=team, calendar=calendar, response=_parse_response(raw["response"]),
                 owners=_parse_owners(raw.get("owners"), team, form_ids),
                 fallback_owner=_fallback_owner(team), lost_reasons=lost_reasons,
                 currency=currency, hours_text=worktime.describe_hours(hours), source=source)


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


def parse_duration(value, where: str) -> timedelta:
    """A positive duration like '45s', '30m', '1h' or '2d' (a day is 24 hours)."""
    match = DURATION_RE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{where}: '{value}' is not a duration like 30m, 1h or 2d (s, m, h or d)")
    amount = timedelta(**{UNITS[match[2]]: int(match[1])})
    if not amount:
        raise ValueError(f"{where}: must be longer than zero")
    return amount


def _parse_response(raw) -> Response:
    """The promise to a lead: first contact, a reminder to the owner, escalation."""
    _mapping(raw, "response", RESPONSE_KEYS, required=("first_contact", "remind_after"))
    first = parse_duration(raw["first_contact"], "response.first_contact")
    remind = parse_duration(raw["remind_after"], "response.remind_after")
    escalate = first
    if raw.get("escalate_after") is not None:
        escalate = parse_duration(raw["escalate_after"], "response.escalate_after")
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
