"""Each form field as JSON Schema that says exactly what capture/schema/validation.py accepts.

Built from the loaded form schema and the business's date, so the description follows forms.yml
and the day it is read. Text patterns come from capture/schema/characters.py, the classes the
server checks with. Two spellings of each field: JSON (null, booleans and numbers where the server
reads them) and form posts, where every value is text.

What JSON Schema cannot say is said in words: lone surrogates are refused (JSON Schema's strings
are code points), an email address must also pass email-validator's syntax check, and around a
value the server trims spaces and drops zero-width characters, which the patterns allow only
where a person is likely to leave them (at either end of free text).
"""
from __future__ import annotations

from datetime import date, timedelta

from capture.schema import characters as chars
from capture.schema.forms import Field, Form
from capture.schema.validation import EARLIEST_DATE, SATURDAY, SLOT_YEARS

WS = chars.WHITESPACE
# Free text: anything but controls, with line breaks and direction overrides only in a textarea
# (and, like spaces, at either end of a line, which is trimmed).
LINE = f"[^{chars.CONTROLS}{chars.LINE_BREAKS}{chars.BIDI_CONTROLS}]"
LINE_VISIBLE = f"[^{chars.CONTROLS}{chars.LINE_BREAKS}{chars.BIDI_CONTROLS}{WS}{chars.INVISIBLE}]"
TEXTAREA = f"[^{chars.CONTROLS}]"
TEXTAREA_VISIBLE = f"[^{chars.CONTROLS}{WS}]"
BLANK_TEXT = {"type": "string", "pattern": f"^[{WS}]*$"}
BLANK = [{"type": "null"}, BLANK_TEXT]
TRUE_WORDS = ("on", "true", "1", "yes")
FALSE_WORDS = ("off", "false", "0", "no")
# email-validator refuses these special-use domains (RFC 6761 and friends).
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")
REGEX_SPECIAL = set("\\^$.|?*+()[]{}")
DATE_ENUM_MAX = 400  # days: a longer range is described by its format and in words
EXAMPLES_BY_AUTOCOMPLETE = {"name": "Ada Lovelace", "organization": "Analytical Engines Ltd"}
EXAMPLES_BY_TYPE = {"text": "Brass gears", "email": "ada@example.com", "tel": "+44 20 7946 0018",
                    "url": "https://analytical.example.com",
                    "textarea": "We sell brass gears online and would like a new shop.",
                    "checkbox": True, "time": "09:30"}


def field_schema(f: Field, today: date, form_post: bool) -> dict:
    """One field: what the server accepts, its label and an example answer."""
    if f.type == "checkbox":
        result = _checkbox(f.required, form_post)
    else:
        result = _answer(f, today)
        if not _needed(f):
            result = {"anyOf": [result, BLANK_TEXT] if form_post else [result, *BLANK]}
    result["description"] = f.label
    answer = example(f, today)
    result["examples"] = ["on" if form_post and answer is True else answer]  # a ticked box, posted
    return result


def _needed(f: Field) -> bool:
    """Whether a blank answer is refused (a radio with one choice is that choice when left out)."""
    return f.required and not (f.type == "radio" and len(f.choices) == 1)


def _answer(f: Field, today: date) -> dict:
    if f.choices:
        return {"type": "string", "enum": [c.value for c in f.choices]}
    if f.type == "date":
        return _date(f, today)
    if f.type == "email":
        return {"type": "string", "format": "email", "maxLength": f.max_length,
                "not": {"pattern": f"[.@](?:{'|'.join(map(_any_case, SPECIAL_USE_DOMAINS))})\\.?$"}}
    if f.type == "time":
        return _text_pattern(f, "(?:[01][0-9]|2[0-3]):[0-5][0-9]")
    if f.type == "tel":
        return _text_pattern(f, chars.TEL.replace("[ ().\\-/]", f"[ ().\\-/\\t{chars.INVISIBLE}]"))
    if f.type == "url":
        return _text_pattern(f, chars.WEB_ADDRESS)
    if f.type == "textarea":
        middle = f"{TEXTAREA}*{TEXTAREA_VISIBLE}{TEXTAREA}*" if f.required else f"{TEXTAREA}*"
    else:
        middle = f"{LINE}*{LINE_VISIBLE}{LINE}*" if f.required else f"{LINE}*"
    return _text_pattern(f, middle)


def _text_pattern(f: Field, core: str) -> dict:
    """Text whose trimmed value matches `core`; spaces (of any kind) around it are trimmed."""
    return {"type": "string", "maxLength": f.max_length, "pattern": f"^[{WS}]*(?:{core})[{WS}]*$"}


def _date(f: Field, today: date) -> dict:
    first = today if f.not_past else EARLIEST_DATE
    last = today + timedelta(days=f.days_ahead)
    if (last - first).days > DATE_ENUM_MAX:
        return {"type": "string", "format": "date",
                "description": f"From {first.isoformat()} to {last.isoformat()}."}
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    taken = [d.isoformat() for d in days if not (f.weekdays_only and d.weekday() >= SATURDAY)]
    return {"type": "string", "format": "date", "pattern": one_of(taken, edges=False),
            "description": f"One of the {len(taken)} days this form takes today."}


def one_of(values: list[str], edges: bool = True) -> str:
    """A pattern for exactly these values (with the spaces the server trims around them, if `edges`).

    A pattern rather than an enum: testing tools try every value of an enum, and a day or a zone
    is no different from the next.
    """
    spelled = "|".join("".join(f"\\{c}" if c in REGEX_SPECIAL else c for c in v) for v in values)
    around = f"[{WS}]*" if edges else ""
    return f"^{around}(?:{spelled}){around}$"


def _checkbox(required: bool, form_post: bool) -> dict:
    """Ticked by true, 1 or on/true/1/yes in any case; unticked by false, 0, blank or off/false/0/no."""
    words = TRUE_WORDS if required else TRUE_WORDS + FALSE_WORDS
    spelled = "|".join(map(_any_case, words))
    text = {"type": "string", "pattern": f"^[{WS}]*(?:{spelled}){'' if required else '?'}[{WS}]*$"}
    if form_post:
        return text
    if required:
        return {"anyOf": [{"const": True}, {"const": 1}, text]}
    return {"anyOf": [{"type": ["boolean", "null"]}, {"enum": [0, 1]}, text]}


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


def slot_pattern(today: date) -> str:
    """ISO 8601 date and time with an offset, on a real calendar day of the years a slot can be in."""
    years = [today.year + n for n in SLOT_YEARS]
    month_day = ("(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
                 "|(?:0[13578]|1[02])-31)")
    leap = [str(y) for y in years if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)]
    day = f"(?:(?:{'|'.join(map(str, years))})-{month_day}" + (f"|(?:{'|'.join(leap)})-02-29)" if leap else ")")
    time = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,6})?)?"
    offset = "(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])"
    return f"^[{WS}]*{day}T{time}{offset}[{WS}]*$"


def example(f: Field, today: date):
    """An answer the server accepts: documentation, and where API testing tools start."""
    if f.choices:
        return f.choices[0].value
    if f.type == "date":
        day = today + timedelta(days=min(7, f.days_ahead // 2))
        while f.weekdays_only and day.weekday() >= SATURDAY:  # a weekend day would be refused
            day += timedelta(days=1)
        return day.isoformat()
    return EXAMPLES_BY_AUTOCOMPLETE.get(f.autocomplete, EXAMPLES_BY_TYPE.get(f.type, "Example"))


def conditions(form: Form) -> list[dict]:
    """forms.yml's required_when as JSON Schema: with these answers, this field too is required."""
    found = []
    for f in form.fields:
        if f.required_when:
            found.append({"if": {"required": list(f.required_when),
                                 "properties": {k: {"const": v} for k, v in f.required_when.items()}},
                          "then": {"required": [f.name],
                                   "properties": {f.name: {"not": {"anyOf": BLANK}}}}})
    return found
