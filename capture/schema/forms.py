"""The form schema: loading forms.yml and validating a submission against it.

The site build renders forms from the same `Schema` object the server
validates with, so a form can never ask for something the server rejects.
This module imports nothing from Flask for that reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from email_validator import EmailNotValidError, validate_email

FIELD_TYPES = ("text", "email", "tel", "url", "textarea", "select", "checkbox", "date", "time")
DEFAULT_MAX_LENGTH = {"textarea": 5000, "email": 254, "url": 2000}
FALLBACK_MAX_LENGTH = 200

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# What the site's script sends about where a visitor came from.
ATTRIBUTION_FIELDS = (
    ("page_url", "referrer", "landing_page", "first_referrer", "first_seen")
    + tuple(f"first_{k}" for k in UTM_KEYS)
    + tuple(f"last_{k}" for k in UTM_KEYS)
)
ATTRIBUTION_MAX_LENGTH = 2000
# How long the visitor spent on the form, in milliseconds, sent by the site's script (spam.py).
TIME_ON_FORM = "time_on_form"
SCRIPT_FIELDS = (*ATTRIBUTION_FIELDS, TIME_ON_FORM)  # the hidden inputs the site's script fills

TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})
# C0 and C1 controls (tab, CR and LF are handled by the field type), and lone
# surrogates: JSON can carry "\ud800", which no database or mail can encode.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]")
# Bidirectional overrides and isolates make a name or a link read differently
# from what it is (in the desk, in a terminal, in a mail client).
BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# Invisible characters with no job in a single line of text. Zero-width
# (non-)joiners stay: Persian, Indic scripts and emoji need them.
INVISIBLE = re.compile(r"[\u200b\u2060\ufeff]")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST_DATE = date(1900, 1, 1)
DEFAULT_DAYS_AHEAD = 366
TEL_ALLOWED = re.compile(r"^\+?[0-9 ().\-/]+$")
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
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
    rows: int = 4

    def choice_label(self, value: str) -> str:
        """The visitor-facing label of a select value (the value itself if unknown)."""
        return next((c.label for c in self.choices if c.value == value), value)


@dataclass(frozen=True)
class Route:
    when: dict[str, str]
    to: tuple[str, ...]


@dataclass(frozen=True)
class Booking:
    """A form that books a consultation slot (booking.py): the slot replaces the fields asking for a time."""
    slot_field: str
    replaces: tuple[str, ...] = ()


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


# --- loading -----------------------------------------------------------------

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


def _parse_booking(raw, fields: tuple[Field, ...], where: str) -> Booking | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("slot_field"), str):
        raise SchemaError(f"{where} booking: needs slot_field (the name the chosen slot is sent as)")
    names = {f.name for f in fields}
    slot_field = raw["slot_field"]
    if not FIELD_NAME_RE.match(slot_field) or slot_field in names:
        raise SchemaError(f"{where} booking: slot_field '{slot_field}' must be a new lower-case name")
    replaces = tuple(str(n) for n in raw.get("replaces") or [])
    unknown = [n for n in replaces if n not in names]
    if unknown:
        raise SchemaError(f"{where} booking: replaces names an unknown field '{unknown[0]}'")
    return Booking(slot_field, replaces)


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
    return Field(name=name, label=str(spec.get("label") or name), type=ftype,
                 required=bool(spec.get("required", False)), max_length=max_length,
                 choices=choices, help=str(spec.get("help", "")),
                 autocomplete=str(spec.get("autocomplete", "")),
                 placeholder=str(spec.get("placeholder", "")), consent=bool(spec.get("consent")),
                 not_past=bool(spec.get("not_past")), days_ahead=days_ahead,
                 rows=int(spec.get("rows", 4)))


def _parse_choices(raw, ftype: str, here: str) -> tuple[Choice, ...]:
    if ftype != "select":
        if raw:
            raise SchemaError(f"{here}: only a select has choices")
        return ()
    if not raw or not isinstance(raw, list):
        raise SchemaError(f"{here}: a select needs a non-empty list of choices")
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


# --- validating a submission -------------------------------------------------

def validate_submission(form: Form, data, today: date) -> tuple[dict, dict]:
    """Check submitted values against the form: (clean values, {field: message}).

    `today` is the business's date (the app asks `capture.clock`; this module reads
    no clock, and imports nothing of the package, for the site build).

    A booking form sent with a slot (an ISO 8601 time with its offset) books
    that slot: the fields it replaces are then neither required nor kept.
    """
    clean, errors = {}, {}
    slot = _slot(form, data, clean, errors, today)
    for f in form.fields:
        if slot and f.name in form.booking.replaces:
            continue
        raw = data.get(f.name)
        try:
            value = _clean(f, raw, today)
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        if value in ("", None, False) and f.required:
            errors[f.name] = _required_message(f)
        elif value not in ("", None):
            clean[f.name] = value
    return clean, errors


SLOT_MESSAGE = "Please pick one of the times offered."


SLOT_RANGE = timedelta(days=400)  # past any horizon sales.yml allows (365 days): nothing else was offered


def _slot(form: Form, data, clean: dict, errors: dict, today: date) -> bool:
    """Whether a slot was sent; its start goes into `clean` in UTC (or a message into `errors`)."""
    if form.booking is None:
        return False
    name = form.booking.slot_field
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return False
    start = parse_slot(raw, today)
    if start is None:
        errors[name] = SLOT_MESSAGE
    else:
        clean[name] = start.isoformat()
    return True


# A calendar date and a time with its offset: fromisoformat alone also takes week and ordinal dates.
SLOT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})$")


def parse_slot(raw, today: date) -> datetime | None:
    """A picked time as an aware UTC datetime, or None if it cannot be one that was offered.

    Only a time near today can have been offered, and only such a time is safe to do
    date arithmetic with (year 9999 plus a day overflows). Every page that takes a
    picked time (the API, the visitor's move page, sales' booking page) reads it here.
    """
    if not isinstance(raw, str) or len(raw) > 40 or not SLOT_RE.match(raw.strip()):
        return None
    try:
        start = datetime.fromisoformat(raw.strip()).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a time, or one that cannot be put in UTC
        return None
    return start if abs(start.date() - today) <= SLOT_RANGE else None


def _required_message(f: Field) -> str:
    if f.type == "checkbox":
        return "Please tick this box to continue."
    if f.type == "select":
        return "Please choose an option."
    return f"Please fill in “{f.label}”."


def _clean(f: Field, raw, today: date):
    if f.type == "checkbox":
        return _checkbox(raw)
    if raw is None:
        return ""
    if not isinstance(raw, str):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ValueError("Please enter text here.")
        raw = str(raw)
    value = _text(f, raw)
    if len(value) > f.max_length:
        raise ValueError(f"Please keep this under {f.max_length} characters (it has {len(value)}).")
    if not value:
        return ""
    return CLEANERS.get(f.type, _as_is)(f, value, today)


def _text(f: Field, raw: str) -> str:
    """The typed text, trimmed; ValueError for characters no field may hold."""
    value = raw.strip()
    if CONTROL_CHARS.search(value):
        raise ValueError("This contains characters we cannot accept.")
    if f.type == "textarea":
        return value
    if LINE_BREAKS.search(value) or BIDI_CONTROLS.search(value):
        raise ValueError("This contains characters we cannot accept.")
    # A pasted tab is a space to the visitor; invisible characters are nothing.
    return INVISIBLE.sub("", value.replace("\t", " ")).strip()


def _checkbox(raw) -> bool:
    if raw is None or raw is False:
        return False
    if raw is True:
        return True
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("Please tick or untick this box.")


def _as_is(f: Field, value: str, today) -> str:
    return value


def _email(f: Field, value: str, today) -> str:
    # The address goes into mail headers as it is: its local part must be plain
    # ASCII (most mail servers cannot carry anything else without SMTPUTF8, and
    # a dropped Reply-To would send sales' answer nowhere) and must not look
    # like an RFC 2047 encoded word, which readers decode.
    if not value.rsplit("@", 1)[0].isascii():
        raise ValueError("We cannot reply to an address with accents or non-Latin letters "
                         "before the @ yet. Please give another address.")
    if "=?" in value:
        raise ValueError("Please enter a valid email address, like name@example.com.")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("Please enter a valid email address, like name@example.com.") from None


def _tel(f: Field, value: str, today) -> str:
    digits = sum(ch.isdigit() for ch in value)
    if not TEL_ALLOWED.match(value) or not 6 <= digits <= 20:
        raise ValueError("Please enter a phone number using digits, spaces and an optional +.")
    return value


def _url(f: Field, value: str, today) -> str:
    candidate = value if "://" in value else f"https://{value}"
    parts = urlsplit(candidate)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or "." not in host or " " in candidate:
        raise ValueError("Please enter a web address, like www.example.com.")
    return candidate


def _select(f: Field, value: str, today) -> str:
    if any(c.value == value for c in f.choices):
        return value
    raise ValueError("Please choose one of the options.")


def _date(f: Field, value: str, today) -> str:
    # Only YYYY-MM-DD: fromisoformat alone also takes week dates (2026-W52-1).
    try:
        day = date.fromisoformat(value) if DATE_RE.match(value) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError("Please enter a date as YYYY-MM-DD.")
    if f.not_past and day < today:
        raise ValueError("Please choose a date from today onwards.")
    if day < EARLIEST_DATE:
        raise ValueError("Please enter a date from 1900 onwards.")
    if day > today + timedelta(days=f.days_ahead):
        raise ValueError(f"Please choose a date within the next {f.days_ahead} days.")
    return day.isoformat()


def _time(f: Field, value: str, today) -> str:
    if not TIME_RE.match(value):
        raise ValueError("Please enter a time as HH:MM, for example 14:30.")
    return value


CLEANERS = {"email": _email, "tel": _tel, "url": _url, "select": _select,
            "date": _date, "time": _time}


def clean_attribution(data) -> dict:
    """The attribution values the site sent, trimmed; anything else is dropped."""
    result = {}
    for key in ATTRIBUTION_FIELDS:
        raw = data.get(key)
        if isinstance(raw, str):
            value = _attribution_text(raw)
            if value:
                result[key] = value[:ATTRIBUTION_MAX_LENGTH]
    return result


def _attribution_text(raw: str) -> str:
    # Sent by our script, not typed: anything odd is dropped rather than refused.
    text = LINE_BREAKS.sub(" ", raw.replace("\t", " "))
    for unwanted in (CONTROL_CHARS, BIDI_CONTROLS, INVISIBLE):
        text = unwanted.sub("", text)
    return text.strip()


CHOICE_TYPES = ("select", "checkbox", "date", "time")  # answers picked, not typed


def kept_answers(schema: Schema, form_id: str, data: dict) -> dict:
    """The answers that are choices: what erasure keeps for the numbers and webhooks send, naming no one."""
    form = schema.forms.get(form_id)
    if form is None:
        return {}
    return {f.name: data[f.name] for f in form.fields if f.type in CHOICE_TYPES and f.name in data}
