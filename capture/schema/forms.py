"""The form schema: loading and checking forms.yml (validation.py checks a submission against it).

The site build renders forms from the same `Schema` object the server
validates with, so a form can never ask for something the server rejects.
This module imports nothing from Flask for that reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from email_validator import EmailNotValidError, validate_email

FIELD_TYPES = ("text", "email", "tel", "url", "textarea", "select", "radio", "checkbox", "date", "time")
CHOOSING = ("select", "radio")  # the types that take choices
DEFAULT_MAX_LENGTH = {"textarea": 5000, "email": 254, "url": 2000}
FALLBACK_MAX_LENGTH = 200

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# What the site's script sends about where a visitor came from.
ATTRIBUTION_FIELDS = (
    ("page_url", "referrer", "landing_page", "first_referrer", "first_seen")
    + tuple(f"first_{k}" for k in UTM_KEYS)
    + tuple(f"last_{k}" for k in UTM_KEYS)
)
# How long the visitor spent on the form, in milliseconds, sent by the site's script (spam.py).
TIME_ON_FORM = "time_on_form"
SCRIPT_FIELDS = (*ATTRIBUTION_FIELDS, TIME_ON_FORM)  # the hidden inputs the site's script fills

DEFAULT_DAYS_AHEAD = 366
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class SchemaError(ValueError):
    """forms.yml is wrong; the message names the form and the field."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str
    required: bool = False
    max_length: int = FALLBACK_MAX_LENGTH
    choices: tuple[Choice, ...] = ()
    help: str = ""
    autocomplete: str = ""
    placeholder: str = ""
    consent: bool = False
    not_past: bool = False
    days_ahead: int = DEFAULT_DAYS_AHEAD
    weekdays_only: bool = False  # a date field: Monday to Friday, on the server as in the copy
    rows: int = 4
    # Required only when other fields have these answers ({meeting_kind: phone}), with this text.
    required_when: dict[str, str] | None = None
    required_message: str = ""

    def choice_label(self, value: str) -> str:
        """The visitor-facing label of a select value (the value itself if unknown)."""
        return next((c.label for c in self.choices if c.value == value), value)


@dataclass(frozen=True)
class Route:
    when: dict[str, str]
    to: tuple[str, ...]


@dataclass(frozen=True)
class Booking:
    """A form that books a consultation slot (booking/slots.py): the slot replaces the fields asking for a time.

    `kind_field` is the form's field where the visitor chooses phone or video (its choices are
    sales.yml's meeting kinds); `zone_field` the name the site's script sends the visitor's
    IANA time zone as (not a field people see, like the slot).
    """
    slot_field: str
    replaces: tuple[str, ...] = ()
    kind_field: str | None = None
    zone_field: str | None = None


@dataclass(frozen=True)
class Form:
    id: str
    title: str
    fields: tuple[Field, ...]
    thank_you: str
    notify_to: tuple[str, ...]
    routes: tuple[Route, ...] = ()
    intro: str = ""
    submit_label: str = "Send"
    confirmation: bool = False
    booking: Booking | None = None

    def field(self, name: str) -> Field | None:
        """The field called `name`, if the form has one."""
        return next((f for f in self.fields if f.name == name), None)

    def recipients(self, values: dict) -> tuple[str, ...]:
        """Who is notified of a lead with these cleaned values."""
        for route in self.routes:
            if all(str(values.get(k, "")) == v for k, v in route.when.items()):
                return route.to
        return self.notify_to


@dataclass(frozen=True)
class Schema:
    forms: dict[str, Form]
    honeypot: str
    privacy_policy_version: str
    source: str = "forms.yml"


def load_schema(path: str | Path) -> Schema:
    """Read and check forms.yml; raise SchemaError naming what is wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read the form schema ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"{path}: not valid YAML ({_yaml_where(exc)})") from None
    return parse_schema(raw, source=str(path))


def parse_schema(raw, source: str = "forms.yml") -> Schema:
    """Build a Schema from already-parsed YAML data."""
    if not isinstance(raw, dict) or not isinstance(raw.get("forms"), dict) or not raw["forms"]:
        raise SchemaError(f"{source}: expected a mapping with a non-empty 'forms' section")
    honeypot = str(raw.get("honeypot", "fax"))
    forms = {str(fid): _parse_form(str(fid), spec, source) for fid, spec in raw["forms"].items()}
    for form in forms.values():
        if form.field(honeypot):
            raise SchemaError(f"{source}: form '{form.id}' field '{honeypot}': clashes with the honeypot name")
    return Schema(forms=forms, honeypot=honeypot,
                  privacy_policy_version=str(raw.get("privacy_policy_version", "1")), source=source)


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    return f"{problem} at line {mark.line + 1}" if mark else problem


def _parse_form(fid: str, spec, source: str) -> Form:
    where = f"{source}: form '{fid}'"
    if not re.match(r"^[a-z][a-z0-9_-]{0,39}$", fid):
        raise SchemaError(f"{where}: the id must be lower-case letters, digits, '-' or '_'")
    if not isinstance(spec, dict):
        raise SchemaError(f"{where}: expected a mapping")
    fields = tuple(_parse_field(f, i, where) for i, f in enumerate(_list(spec, "fields", where)))
    if not fields:
        raise SchemaError(f"{where}: has no fields")
    names = [f.name for f in fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaError(f"{where} field '{dupes[0]}': the name is used twice")
    _check_conditions(fields, where)
    thank_you = str(spec.get("thank_you", ""))
    if not thank_you.startswith("/") or thank_you.startswith("//"):
        raise SchemaError(f"{where}: thank_you must be a path on the site such as /thank-you/")
    notify = spec.get("notify") or {}
    to = tuple(_addresses(notify.get("to"), f"{where} notify.to"))
    if not to:
        raise SchemaError(f"{where}: notify.to needs at least one address")
    routes = tuple(_parse_route(r, fields, f"{where} notify.routes[{i}]")
                   for i, r in enumerate(notify.get("routes") or []))
    return Form(id=fid, title=str(spec.get("title", fid)), fields=fields, thank_you=thank_you,
                notify_to=to, routes=routes, intro=str(spec.get("intro", "")),
                submit_label=str(spec.get("submit_label", "Send")),
                confirmation=bool(spec.get("confirmation", False)),
                booking=_parse_booking(spec.get("booking"), fields, where))


def _check_conditions(fields: tuple[Field, ...], where: str) -> None:
    """Each required_when names another field of the form, and one of its choices if it has any."""
    for f in fields:
        for key, value in (f.required_when or {}).items():
            other = next((o for o in fields if o.name == key), None)
            if other is None or other.name == f.name:
                raise SchemaError(f"{where} field '{f.name}': required_when names an unknown field '{key}'")
            if other.choices and value not in {c.value for c in other.choices}:
                raise SchemaError(f"{where} field '{f.name}': required_when: '{value}' is not one of "
                                  f"{key}'s choices")


BOOKING_KEYS = ("slot_field", "replaces", "kind_field", "zone_field")


def _parse_booking(raw, fields: tuple[Field, ...], where: str) -> Booking | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("slot_field"), str):
        raise SchemaError(f"{where} booking: needs slot_field (the name the chosen slot is sent as)")
    unknown_keys = sorted(str(k) for k in raw if k not in BOOKING_KEYS)
    if unknown_keys:
        raise SchemaError(f"{where} booking: unknown key '{unknown_keys[0]}' (use {', '.join(BOOKING_KEYS)})")
    names = {f.name for f in fields}
    slot_field = raw["slot_field"]
    if not FIELD_NAME_RE.match(slot_field) or slot_field in names:
        raise SchemaError(f"{where} booking: slot_field '{slot_field}' must be a new lower-case name")
    replaces = tuple(str(n) for n in raw.get("replaces") or [])
    unknown = [n for n in replaces if n not in names]
    if unknown:
        raise SchemaError(f"{where} booking: replaces names an unknown field '{unknown[0]}'")
    zone_field = raw.get("zone_field")
    if zone_field is not None and (not isinstance(zone_field, str) or not FIELD_NAME_RE.match(zone_field)
                                   or zone_field in names or zone_field == slot_field):
        raise SchemaError(f"{where} booking: zone_field '{zone_field}' must be a new lower-case name")
    return Booking(slot_field, replaces, _kind_field(raw.get("kind_field"), fields, where), zone_field)


def _kind_field(raw, fields: tuple[Field, ...], where: str) -> str | None:
    """The field where the visitor chooses how to meet: a select or radio of the form."""
    if raw is None:
        return None
    field = next((f for f in fields if f.name == raw), None)
    if field is None or field.type not in CHOOSING:
        raise SchemaError(f"{where} booking: kind_field '{raw}' must name a select or radio field of the form")
    return field.name


def _list(spec: dict, key: str, where: str) -> list:
    value = spec.get(key) or []
    if not isinstance(value, list):
        raise SchemaError(f"{where}: '{key}' must be a list")
    return value


def _parse_field(spec, index: int, where: str) -> Field:
    if not isinstance(spec, dict) or not spec.get("name"):
        raise SchemaError(f"{where} field #{index + 1}: needs a name")
    name = str(spec["name"])
    here = f"{where} field '{name}'"
    if not FIELD_NAME_RE.match(name):
        raise SchemaError(f"{here}: names are lower-case letters, digits and '_'")
    ftype = spec.get("type", "text")
    if ftype not in FIELD_TYPES:
        raise SchemaError(f"{here}: unknown type '{ftype}' (use one of {', '.join(FIELD_TYPES)})")
    unknown = sorted(set(spec) - set(Field.__dataclass_fields__))
    if unknown:
        raise SchemaError(f"{here}: unknown key '{unknown[0]}'")
    choices = _parse_choices(spec.get("choices"), ftype, here)
    max_length = spec.get("max_length", DEFAULT_MAX_LENGTH.get(ftype, FALLBACK_MAX_LENGTH))
    if not isinstance(max_length, int) or max_length < 1:
        raise SchemaError(f"{here}: max_length must be a positive whole number")
    if spec.get("consent") and ftype != "checkbox":
        raise SchemaError(f"{here}: only a checkbox can record consent")
    days_ahead = spec.get("days_ahead", DEFAULT_DAYS_AHEAD)
    if not isinstance(days_ahead, int) or days_ahead < 0 or (ftype != "date" and "days_ahead" in spec):
        raise SchemaError(f"{here}: days_ahead is a whole number of days, for a date field")
    if spec.get("weekdays_only") and ftype != "date":
        raise SchemaError(f"{here}: weekdays_only is for a date field")
    required_when = _required_when(spec, here)
    return Field(name=name, label=str(spec.get("label") or name), type=ftype,
                 required=bool(spec.get("required", False)), max_length=max_length,
                 choices=choices, help=str(spec.get("help", "")),
                 autocomplete=str(spec.get("autocomplete", "")),
                 placeholder=str(spec.get("placeholder", "")), consent=bool(spec.get("consent")),
                 not_past=bool(spec.get("not_past")), days_ahead=days_ahead,
                 weekdays_only=bool(spec.get("weekdays_only")),
                 rows=int(spec.get("rows", 4)), required_when=required_when,
                 required_message=" ".join(str(spec.get("required_message") or "").split()))


def _required_when(spec: dict, here: str) -> dict[str, str] | None:
    """`required_when: {field: value}`: required only while those answers are given (checked per form)."""
    raw = spec.get("required_when")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw or spec.get("required"):
        raise SchemaError(f"{here}: required_when is a mapping of field: value, for a field not always required")
    return {str(k): str(v) for k, v in raw.items()}


def _parse_choices(raw, ftype: str, here: str) -> tuple[Choice, ...]:
    if ftype not in CHOOSING:
        if raw:
            raise SchemaError(f"{here}: only a select or radio has choices")
        return ()
    if not raw or not isinstance(raw, list):
        raise SchemaError(f"{here}: a {ftype} needs a non-empty list of choices")
    choices = []
    for item in raw:
        if isinstance(item, dict) and "value" in item:
            choices.append(Choice(str(item["value"]), str(item.get("label", item["value"]))))
        elif isinstance(item, (str, int, float)):
            choices.append(Choice(str(item), str(item)))
        else:
            raise SchemaError(f"{here}: each choice is a string or a mapping with a value")
    values = [c.value for c in choices]
    if len(set(values)) != len(values):
        raise SchemaError(f"{here}: a choice value is listed twice")
    return tuple(choices)


def _addresses(raw, where: str) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    result = []
    for address in raw or []:
        try:
            result.append(validate_email(str(address), check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise SchemaError(f"{where}: '{address}' is not an email address ({exc})") from None
    return result


def _parse_route(raw, fields: tuple[Field, ...], where: str) -> Route:
    if not isinstance(raw, dict) or not isinstance(raw.get("when"), dict) or not raw["when"]:
        raise SchemaError(f"{where}: a route needs 'when' (field: value) and 'to'")
    names = {f.name for f in fields}
    for key in raw["when"]:
        if key not in names:
            raise SchemaError(f"{where}: 'when' names an unknown field '{key}'")
    to = tuple(_addresses(raw.get("to"), f"{where} to"))
    if not to:
        raise SchemaError(f"{where}: 'to' needs at least one address")
    return Route(when={str(k): str(v) for k, v in raw["when"].items()}, to=to)
