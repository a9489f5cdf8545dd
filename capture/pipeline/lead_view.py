"""A lead as people read it, in an email or on the desk: its answers, where it came from, and
the consultation time it asked for."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from capture.core import formatting
from capture.schema.forms import Form

DEFAULT_SLOT_LENGTH = timedelta(hours=1)
TIME_WINDOW = re.compile(r"^(\d{2}):(\d{2})(?:-(\d{2}):(\d{2}))?$")
ATTRIBUTION_LABELS = (
    ("page_url", "Page"), ("referrer", "Referrer"), ("landing_page", "First landing page"),
    ("first_referrer", "First referrer"), ("first_seen", "First visit"),
)
UTM_PARTS = ("source", "medium", "campaign", "term", "content")


@dataclass(frozen=True)
class History:
    """Earlier leads with the same email address."""
    count: int = 0
    last_at: datetime | None = None


def lead_context(lead: dict, form: Form, history: History, tz: ZoneInfo,
                 slot_length: timedelta | None = None) -> dict:
    """Everything a template shows about a lead, already turned into display text.

    `slot_length` is how long a picked time lasts (sales.yml consultation.length; None: no booking).
    """
    values = lead["data"] or {}
    name = str(values.get("name") or lead.get("name") or "")
    email = str(values.get("email") or lead.get("email") or "")
    service = form.field("service")
    want = (service.choice_label(values["service"]).split(" (")[0]
            if service and values.get("service") else str(values.get("company") or ""))
    received = lead["received_at"]
    return {
        "lead_id": lead["id"], "form_id": form.id, "form_title": form.title,
        "noun": form.id.replace("_", " ").replace("-", " ").capitalize(),
        "name": name, "first_name": name.split(" ")[0] if name else "",
        "who": name or email or "someone", "want": want, "email": email,
        "phone": str(values.get("phone") or ""), "tel": _tel_href(values.get("phone")),
        "fields": _fields(form, values, lead),
        "slot": requested_slot(form, values, tz, slot_length),
        "attribution": _attribution(lead),
        "history": history,
        "received": received, "tz": tz,
        # The filter's doubts go on top of the message; a release from the tray is said too.
        "suspect": lead.get("verdict") == "suspect" and not lead.get("spam"),
        "spam_reasons": list(lead.get("spam_reasons") or ()),
        "released": lead.get("released_at"),
    }


def _fields(form: Form, values: dict, lead: dict) -> list[dict]:
    shown = []
    for f in form.fields:
        value = values.get(f.name)
        if value in (None, "", False) and not f.consent:
            continue
        if f.type in ("select", "radio"):
            text = f.choice_label(str(value))
        elif f.type == "checkbox":
            text = "Yes" if value else "No"
            if f.consent and value and lead.get("consent_version"):
                text = f"Yes (privacy policy version {lead['consent_version']})"
        elif f.type == "date":
            text = _day(str(value))
        else:
            text = str(value)
        shown.append({"name": f.name, "label": f.label, "text": text, "type": f.type,
                      "href": _field_href(f.type, str(value))})
    return shown


def _day(value: str) -> str:
    """'2026-12-03' as 'Thursday 3 December 2026' (the value itself if it is no date)."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    return formatting.weekday_date(day)


def _field_href(ftype: str, value: str) -> str | None:
    if ftype == "email":
        return f"mailto:{value}"
    if ftype == "tel":
        return _tel_href(value)
    if ftype == "url" and value.lower().startswith(("https://", "http://")):
        return value
    return None


def _tel_href(phone) -> str | None:
    digits = re.sub(r"[^0-9+]", "", str(phone or ""))
    return f"tel:{digits}" if len(digits) >= 6 else None


def _attribution(lead: dict) -> list[tuple[str, str]]:
    rows = [(label, str(lead[key])) for key, label in ATTRIBUTION_LABELS if lead.get(key)]
    for touch in ("first", "last"):
        parts = [f"{p}={lead[f'{touch}_utm_{p}']}" for p in UTM_PARTS if lead.get(f"{touch}_utm_{p}")]
        if parts:
            rows.append((f"{touch.capitalize()}-touch UTM", ", ".join(parts)))
    return rows


def requested_slot(form: Form, values: dict, tz: ZoneInfo, length: timedelta | None) -> dict | None:
    """The consultation slot the visitor asked for, as aware datetimes in `tz`.

    The fields are the form's (forms.yml `booking`): `slot_field` holds a picked time,
    `length` long (sales.yml consultation.length; None when nothing can be booked), and
    the fields it `replaces` ask for a day (the date field) and a time window instead.
    A picked time that was never booked (a lead held as spam, then released) counts as asked for.
    """
    if form.booking is None:
        return None
    picked = values.get(form.booking.slot_field)
    if picked and length:
        try:
            start = datetime.fromisoformat(str(picked)).astimezone(tz)
        except ValueError:
            return None
        return _slot(start, start + length, tz)
    day_field, window_field = asked_fields(form)
    day, window = values.get(day_field), values.get(window_field)
    found = TIME_WINDOW.match(str(window or ""))
    if not day or not found:
        return None
    try:
        start = datetime.combine(date.fromisoformat(str(day)), time(int(found[1]), int(found[2])), tz)
        end = (datetime.combine(start.date(), time(int(found[3]), int(found[4])), tz)
               if found[3] else start + DEFAULT_SLOT_LENGTH)
    except ValueError:
        return None
    if end <= start:
        return None
    return _slot(start, end, tz)


def asked_fields(form: Form) -> tuple[str | None, str | None]:
    """The names of the day and the time-window fields a booking form asks with when no time is picked."""
    replaced = [f for f in (form.field(name) for name in form.booking.replaces) if f is not None]
    day = next((f.name for f in replaced if f.type == "date"), None)
    window = next((f.name for f in replaced if f.type != "date"), None)
    return day, window


def _slot(start: datetime, end: datetime, tz: ZoneInfo) -> dict:
    return {"start": start, "end": end, "zone": tz.key,
            "label": f"{formatting.weekday_date(start)}, {start:%H:%M}–{end:%H:%M} "
                     f"({tz.key}, {start:%Z})"}
