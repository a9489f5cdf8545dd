"""Validating a submission against its form: each value cleaned, or a message for the visitor.

Like forms.py this reads no clock and imports nothing from Flask; the app passes today's date.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from email_validator import EmailNotValidError, validate_email

from capture.core.zones import known_zone
from capture.schema import characters as chars
from capture.schema.forms import ATTRIBUTION_FIELDS, Field, Form, Schema
from capture.schema.checks import DATE_RE

ATTRIBUTION_MAX_LENGTH = 2000  # a long URL's worth; the rest is cut
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})
CONTROL_CHARS = re.compile(f"[{chars.CONTROLS}{chars.SURROGATES}]")
LINE_BREAKS = re.compile(f"[{chars.LINE_BREAKS}]")
BIDI_CONTROLS = re.compile(f"[{chars.BIDI_CONTROLS}]")
INVISIBLE = re.compile(f"[{chars.INVISIBLE}]")
EARLIEST_DATE = date(1900, 1, 1)
TEL_RE = re.compile(f"^{chars.TEL}$")
WEB_ADDRESS_RE = re.compile(f"^{chars.WEB_ADDRESS}$")
HAS_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def validate_submission(form: Form, data, today: date) -> tuple[dict, dict]:
    """Check submitted values against the form: (clean values, {field: message}).

    `today` is the business's date (the app asks capture.core.clock; this module
    reads no clock, so tests pass any day they like).

    A booking form sent with a slot (an ISO 8601 time with its offset) books
    that slot: the fields it replaces are then neither required nor kept.
    """
    clean, errors = {}, {}
    slot = _slot(form, data, clean, errors, today)
    _zone(form, data, clean, errors)
    for f in form.fields:
        if slot and f.name in form.booking.replaces:
            continue
        raw = data.get(f.name)
        try:
            value = _clean(f, raw, today)
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        if value in ("", None) and f.type == "radio" and len(f.choices) == 1:
            value = f.choices[0].value  # one way offered: nothing to choose
        if value in ("", None, False) and f.required:
            errors[f.name] = _required_message(f)
        elif value not in ("", None):
            clean[f.name] = value
    _conditions(form, clean, errors, form.booking.replaces if slot else ())
    return clean, errors


def _conditions(form: Form, clean: dict, errors: dict, replaced: tuple[str, ...]) -> None:
    """A field required only with certain answers (required_when in forms.yml): a phone call needs a number."""
    for f in form.fields:
        if not f.required_when or f.name in clean or f.name in errors or f.name in replaced:
            continue
        if all(str(clean.get(key, "")) == value for key, value in f.required_when.items()):
            errors[f.name] = f.required_message or _required_message(f)


ZONE_MESSAGE = "We do not know this time zone. Please reload the page and try again."


def _zone(form: Form, data, clean: dict, errors: dict) -> None:
    """The visitor's IANA zone the picker sent, kept only if the tz database lists it; none means the studio's."""
    name = form.booking.zone_field if form.booking else None
    raw = data.get(name) if name else None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return
    zone = known_zone(raw.strip()) if isinstance(raw, str) else None
    if zone is None:
        errors[name] = ZONE_MESSAGE
    else:
        clean[name] = zone.key


SLOT_MESSAGE = "Please pick one of the times offered."
WEEKDAYS_MESSAGE = "Please choose a weekday (Monday to Friday)."
SATURDAY = 5  # date.weekday()


# Only a time near today can have been offered (any horizon sales.yml allows is under a year), and
# only such a time is safe to do date arithmetic with (year 9999 plus a day overflows): the year
# as written is last year, this year or next year. A well-formed time in them that was not
# offered is not free (409, with the next free times), as the API description says.
SLOT_YEARS = (-1, 0, 1)


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
SLOT_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
                     r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$")


def parse_slot(raw, today: date) -> datetime | None:
    """A picked time as an aware UTC datetime, or None if it cannot be one that was offered.

    Its year must be one of SLOT_YEARS around today's. Every page that takes a
    picked time (the API, the visitor's move page, sales' booking page) reads it here.
    """
    text = raw.strip() if isinstance(raw, str) and len(raw) <= 40 else ""
    if not SLOT_RE.match(text) or int(text[:4]) - today.year not in SLOT_YEARS:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a time, or one that cannot be put in UTC
        return None


def _required_message(f: Field) -> str:
    if f.type == "checkbox":
        return "Please tick this box to continue."
    if f.type in ("select", "radio"):
        return "Please choose an option."
    return f"Please fill in “{f.label}”."


def _clean(f: Field, raw, today: date):
    if f.type == "checkbox":
        return _checkbox(raw)
    if raw is None:
        return ""
    if not isinstance(raw, str):  # a JSON number is not text: a phone number's 0 or + would be lost
        raise ValueError("Please enter text here.")
    # Counted as sent, as a browser's maxlength counts it (and as the API description's maxLength).
    if len(raw) > f.max_length:
        raise ValueError(f"Please keep this under {f.max_length} characters (it has {len(raw)}).")
    value = _text(f, raw)
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
    if isinstance(raw, (int, float)) and raw in (0, 1):  # JSON's 1 and 1.0 are one number
        return bool(raw)
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
    if not TEL_RE.match(value):
        raise ValueError("Please enter a phone number using digits, spaces and an optional +.")
    return value


def _url(f: Field, value: str, today) -> str:
    # One pattern, the one the API description shows (characters.WEB_ADDRESS).
    if not WEB_ADDRESS_RE.match(value):
        raise ValueError("Please enter a web address, like www.example.com.")
    return value if HAS_SCHEME.match(value) else f"https://{value}"


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
    if f.weekdays_only and day.weekday() >= SATURDAY:
        raise ValueError(WEEKDAYS_MESSAGE)
    return day.isoformat()


def _time(f: Field, value: str, today) -> str:
    if not TIME_RE.match(value):
        raise ValueError("Please enter a time as HH:MM, for example 14:30.")
    return value


CLEANERS = {"email": _email, "tel": _tel, "url": _url, "select": _select, "radio": _select,
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


CHOICE_TYPES = ("select", "radio", "checkbox", "date", "time")  # answers picked, not typed


def kept_answers(schema: Schema, form_id: str, data: dict) -> dict:
    """The answers that are choices: what erasure keeps for the numbers and webhooks send, naming no one."""
    form = schema.forms.get(form_id)
    if form is None:
        return {}
    return {f.name: data[f.name] for f in form.fields if f.type in CHOICE_TYPES and f.name in data}
