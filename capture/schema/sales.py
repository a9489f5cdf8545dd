"""The sales settings: loading and checking sales.yml.

Who sells, when they work, what a lead is promised and why leads are lost;
each section with a module of its own (team, closures, consultation,
webhook_endpoints) is parsed there. Like forms.py this imports nothing from
Flask: the app, the worker and the CLI all read the same `Sales` object. Every
error is one line naming the file and the key, so a typo is found without
reading a traceback.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from capture.schema import checks, worktime
from capture.schema.closures import closures
from capture.schema.consultation import Consultation, parse_consultation
from capture.schema.team import ROLES, Member, parse_team, seller
from capture.schema.webhook_endpoints import Endpoint, parse_webhooks

STRATEGIES = ("first_notified", "round_robin")
DEFAULT_STRATEGY = "first_notified"
KEYS = ("team", "hours", "holidays", "response", "owners", "pipeline", "consultation", "webhooks")
RESPONSE_KEYS = ("first_contact", "remind_after", "escalate_after")
# What the site promises when sales.yml says nothing: a reply within one working hour, the owner
# nudged after 30 minutes (or at escalation, if that comes sooner), escalation at the promise.
DEFAULT_FIRST_CONTACT = timedelta(minutes=60)
DEFAULT_REMIND_AFTER = timedelta(minutes=30)
OWNER_KEYS = ("strategy", "members")
PIPELINE_KEYS = ("lost_reasons", "currency")
REASON_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


class SalesError(ValueError):
    """sales.yml is wrong; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Response:
    """What a lead is promised: first contact within `first_contact`, the owner reminded, then managers told."""
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
    consultation: Consultation | None = None  # None: no section, no booking
    webhooks: tuple[Endpoint, ...] = ()  # none: no section
    responses: dict[str, Response] = field(default_factory=dict)  # by form id; others get `response`

    def promise(self, form_id: str | None) -> Response:
        """The response promised to a lead from this form (sales.yml's block for it, else the default)."""
        return self.responses.get(form_id or "", self.response)

    def promise_words(self, form_id: str | None) -> str:
        """The first-contact promise as the site words it: 'one working hour', 'one working day'."""
        return worktime.span_words(self.promise(form_id).first_contact, self.calendar.hours)

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
    checks.mapping(raw, "", KEYS, required=("team", "hours", "pipeline"))
    team = parse_team(raw["team"])
    hours = worktime.parse_hours(raw["hours"], "hours")
    closed = closures(raw.get("holidays"))
    try:
        calendar = worktime.Calendar(hours, tz, closed)
    except ValueError as exc:
        raise ValueError(f"hours: {exc}") from None
    lost_reasons, currency = _parse_pipeline(raw["pipeline"])
    # The key alone turns booking on: an empty `consultation:` means every default.
    consultation = None
    if "consultation" in raw:
        consultation = parse_consultation(raw["consultation"], team, hours)
    response, responses = _parse_responses(raw.get("response"), form_ids)
    return Sales(team=team, calendar=calendar, response=response, responses=responses,
                 owners=_parse_owners(raw.get("owners"), team, form_ids),
                 fallback_owner=_fallback_owner(team), lost_reasons=lost_reasons,
                 currency=currency, hours_text=worktime.describe_hours(hours), source=source,
                 consultation=consultation, webhooks=parse_webhooks(raw.get("webhooks")))


def _parse_responses(raw, form_ids: tuple[str, ...]) -> tuple[Response, dict[str, Response]]:
    """The default promise and the promise of each form that has a block of its own.

    `response` holds the keys of one promise (the default, for every form not named), and/or a
    block per form id with the same keys, each read on its own like the single block.
    """
    raw = {} if raw is None else raw
    # Without the form ids (a caller that has no forms.yml), any block may be a form's.
    blocks = tuple(k for k, v in raw.items() if isinstance(v, dict)) if isinstance(raw, dict) else ()
    checks.mapping(raw, "response", RESPONSE_KEYS + (form_ids or blocks))
    default = _parse_response({k: v for k, v in raw.items() if k in RESPONSE_KEYS}, "response")
    forms = {str(k): _parse_response(v, f"response.{k}") for k, v in raw.items() if k not in RESPONSE_KEYS}
    return default, forms


def _parse_response(raw, where: str) -> Response:
    """The promise to a lead: first contact, a reminder to the owner, escalation.

    Each key may be left out (the whole block too): 60m, 30m and first_contact.
    """
    raw = {} if raw is None else raw
    checks.mapping(raw, where, RESPONSE_KEYS)
    first = DEFAULT_FIRST_CONTACT
    if raw.get("first_contact") is not None:
        first = checks.duration(raw["first_contact"], f"{where}.first_contact")
    escalate = first
    if raw.get("escalate_after") is not None:
        escalate = checks.duration(raw["escalate_after"], f"{where}.escalate_after")
    if raw.get("remind_after") is None:
        return Response(first_contact=first, remind_after=min(DEFAULT_REMIND_AFTER, escalate),
                        escalate_after=escalate)
    remind = checks.duration(raw["remind_after"], f"{where}.remind_after")
    if remind > escalate:
        raise ValueError(f"{where}.remind_after: must not be later than escalate_after "
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
    checks.mapping(raw, where, OWNER_KEYS, required=("strategy",))
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
    emails = tuple(seller(value, team, f"{where}.members[{i}]") for i, value in enumerate(members))
    if len(set(emails)) != len(emails):
        raise ValueError(f"{where}.members: a member is listed twice")
    return OwnerRule(strategy, emails)


def _fallback_owner(team: tuple[Member, ...]) -> str:
    """Who owns a lead nobody else can: the first manager, else the first seller."""
    for role in ("manager", "sales"):
        for member in team:
            if role in member.roles:
                return member.email
    raise AssertionError("unreachable: parse_team requires a seller")


def _parse_pipeline(raw) -> tuple[tuple[str, ...], str]:
    """Lost reasons (with 'other') and the currency deal values are in."""
    checks.mapping(raw, "pipeline", PIPELINE_KEYS, required=PIPELINE_KEYS)
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
