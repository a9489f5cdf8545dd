"""Rendering the emails: the sales notification and the visitor's confirmation.

Every message is built from Jinja2 templates in templates/email/ (a plain-text
and an HTML part; HTML is autoescaped) into an `email.message.EmailMessage`.
A message about a consultation also carries its iCalendar file (invitations.py)
the way Gmail and Outlook recognise an invitation: an inline
`text/calendar; method=…; charset=UTF-8` alternative next to the text and
HTML, plus the same file as a `consultation.ics` attachment for clients that
only import files. Every part is 7-bit (non-ASCII text quoted-printable), so
no relay without 8BITMIME can mangle it.
Every value from a visitor that reaches a header is made one line and set as
a literal header object (headers.py), never parsed or decoded as header
syntax, so a lead can never add or change a header, a recipient or the
message's structure. Sending is transport.py's job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from capture.booking import invitations
from capture.schema.forms import Form
from capture.delivery.headers import LiteralAddress, LiteralText
from capture.core import formatting
from capture.core.clock import utcnow
from capture.delivery.registry import Kind, RenderError

TO_SALES = (Kind.NOTIFY_SALES, Kind.REMIND_OWNER, Kind.ESCALATE)
FOLLOW_UPS = (Kind.REMIND_OWNER, Kind.ESCALATE)
BOOKING_KINDS = (Kind.BOOKING_UPDATE, Kind.REMIND_VISITOR)
KINDS = (*TO_SALES, Kind.CONFIRM_VISITOR, *BOOKING_KINDS)
DEFAULT_SLOT_LENGTH = timedelta(hours=1)
CALENDAR_CHARSET = "UTF-8"  # as the iTIP examples and Gmail's own invitations write it
HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
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


def environment(folder) -> Environment:
    """The Jinja2 environment for email templates (HTML autoescaped, text not)."""
    env = Environment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"], default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(formatting.FILTERS)
    return env


def one_line(value, limit: int = 200) -> str:
    """A value made safe for a header: no line breaks or control characters, trimmed."""
    text = " ".join(HEADER_UNSAFE.sub(" ", str(value or "")).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def compose(env: Environment, job: dict, lead: dict, form: Form, *, history: History,
            mail_from: Address | str, tz: ZoneInfo, domain: str, links: list[dict] = (),
            extra: dict | None = None, slot_length: timedelta | None = None) -> EmailMessage:
    """The whole message for one outbox job; RenderError if it cannot exist.

    `links` are the desk and one-click action links of a message to sales;
    `extra` adds what a reminder says (how long the lead has waited, its owner);
    `slot_length` is how long a picked time lasts (sales.yml consultation.length).
    """
    if job["kind"] not in KINDS:
        raise RenderError(f"unknown message kind {job['kind']!r}")
    ctx = {"booking": None, **lead_context(lead, form, history, tz, slot_length), "links": list(links),
           **(extra or {})}
    if job["kind"] == Kind.CONFIRM_VISITOR:
        return _confirmation(env, job, lead, form, ctx, mail_from, tz, domain)
    if job["kind"] in BOOKING_KINDS:
        return _about_booking(env, job, lead, form, ctx, mail_from)
    return _to_sales(env, job, ctx, mail_from)


def _about_booking(env, job: dict, lead: dict, form: Form, ctx: dict, mail_from) -> EmailMessage:
    """A booking's update or reminder: to the visitor's own address or to the booking's host only."""
    booking = ctx["booking"]
    if booking is None:
        raise RenderError("a booking message without a booking")
    if booking["to_visitor"]:
        _only_to_the_lead(job, ctx)
    elif booking["audience"] != "host":
        raise RenderError("a booking message goes to the visitor or the host only")
    kind = job["kind"]
    msg = _headers(job, mail_from, one_line(env.get_template(f"{kind}.subject.txt").render(ctx)))
    msg["Auto-Submitted"] = "auto-generated"
    msg["Reply-To"] = form.recipients(lead["data"])[0] if booking["to_visitor"] else ctx["email"] or booking["host"]
    _body(env, msg, kind, ctx, _invitation(ctx))
    return msg


def _invitation(ctx: dict) -> tuple[bytes, str] | None:
    """The booking's iCalendar invitation and its METHOD (REQUEST or CANCEL), if the recipient gets one."""
    booking = ctx.get("booking")
    return (booking["ics"], booking["method"]) if booking and booking["ics"] else None


def _only_to_the_lead(job: dict, ctx: dict) -> None:
    # Never an open relay: the one recipient is the address the lead gave.
    own = _normalised(ctx["email"])
    if not own or _normalised(job["recipient"]) != own:
        raise RenderError("a message to a visitor may only go to the lead's own address")


def _to_sales(env, job: dict, ctx: dict, mail_from: Address | str) -> EmailMessage:
    kind = job["kind"]
    msg = _headers(job, mail_from, one_line(env.get_template(f"{kind}.subject.txt").render(ctx)))
    msg["Auto-Submitted"] = "auto-generated"
    if ctx["email"]:
        msg["Reply-To"] = _address("Reply-To", ctx["email"], ctx["name"])
    _body(env, msg, kind, ctx, _invitation(ctx))
    return msg


def compose_sign_in(env: Environment, job: dict, *, url: str, name: str,
                    mail_from: Address | str) -> EmailMessage:
    """The desk's magic sign-in link, for a team member."""
    ctx = {"url": url, "name": name, "minutes": 15}
    msg = _headers(job, mail_from, one_line(env.get_template(f"{Kind.SIGN_IN}.subject.txt").render(ctx)))
    msg["Auto-Submitted"] = "auto-generated"
    _body(env, msg, Kind.SIGN_IN, ctx)
    return msg


def compose_digest(env: Environment, job: dict, ctx: dict, *, mail_from: Address | str) -> EmailMessage:
    """The weekly digest (digest.py) for one team member."""
    msg = _headers(job, mail_from, one_line(env.get_template(f"{Kind.DIGEST}.subject.txt").render(ctx)))
    msg["Auto-Submitted"] = "auto-generated"
    _body(env, msg, Kind.DIGEST, ctx)
    return msg


def compose_notice(env: Environment, job: dict, kind: str, ctx: dict, *, mail_from: Address | str) -> EmailMessage:
    """A message to a team member about no lead (an alert), from `kind`'s templates."""
    msg = _headers(job, mail_from, one_line(env.get_template(f"{kind}.subject.txt").render(ctx)))
    msg["Auto-Submitted"] = "auto-generated"
    _body(env, msg, kind, ctx)
    return msg


def _confirmation(env, job, lead, form, ctx, mail_from, tz, domain) -> EmailMessage:
    _only_to_the_lead(job, ctx)
    msg = _headers(job, mail_from, one_line(env.get_template("confirm_visitor.subject.txt").render(ctx)))
    msg["Auto-Submitted"] = "auto-replied"
    answers = form.recipients(lead["data"])[0]
    msg["Reply-To"] = answers
    _body(env, msg, Kind.CONFIRM_VISITOR, ctx, _invitation(ctx) or _requested(ctx, answers, domain))
    return msg


def _requested(ctx: dict, answers: str, domain: str) -> tuple[bytes, str] | None:
    """The time asked for as a tentative event (invitations.requested), if one was asked for."""
    slot = ctx["slot"]
    if not slot:
        return None
    ics = invitations.requested(ctx["lead_id"], slot["start"], slot["end"], ZoneInfo(slot["zone"]),
                                organizer=answers, form_title=ctx["form_title"], domain=domain, stamp=utcnow())
    return ics, invitations.PUBLISH


def _headers(job: dict, mail_from: Address | str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = _address("To", job["recipient"])
    msg["Subject"] = LiteralText("Subject", subject)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = job["message_id"]
    if job.get("lead_id"):
        msg["X-Capture-Lead"] = one_line(job["lead_id"], 40)
    return msg


def _body(env: Environment, msg: EmailMessage, kind: str, ctx: dict,
          calendar: tuple[bytes, str] | None = None) -> None:
    """Text and HTML as alternatives, and the calendar (iCalendar bytes, METHOD) as a third one.

    Gmail and Outlook show an invitation's buttons for an inline text/calendar
    alternative with a `method`; the attachment is for clients that import files.
    """
    _text(msg.set_content, env.get_template(f"{kind}.txt").render(ctx))
    _text(msg.add_alternative, env.get_template(f"{kind}.html").render(ctx), subtype="html")
    if calendar is None:
        return
    ics, method = calendar
    _text(msg.add_alternative, ics.decode("utf-8"), subtype="calendar", charset=CALENDAR_CHARSET,
          params=invitations.content_params(method))
    msg.add_attachment(ics, maintype="application", subtype="ics", filename="consultation.ics")


def _text(add, text: str, **kwargs) -> None:
    """A text part that is 7-bit on the wire.

    Left to itself the email package writes non-ASCII text as raw 8-bit, which
    SMTP may only carry to a server that offers 8BITMIME and a client that
    declares it; quoted-printable keeps such text readable and safe everywhere.
    ASCII text is left to the package (7bit, or an encoding for long lines).
    """
    add(text, cte=None if text.isascii() else "quoted-printable", **kwargs)


def _address(header: str, email: str, name: str = "") -> LiteralAddress:
    """An address header; RenderError (never a silently missing header) if it cannot be one."""
    try:
        return LiteralAddress(header, ascii_address(email), one_line(name, 120))
    except (EmailNotValidError, ValueError) as exc:
        raise RenderError(f"{header}: the address cannot go into a header ({type(exc).__name__})") from None


def ascii_address(email: str) -> str:
    """An address as headers and SMTP want it: an internationalised domain in punycode.

    A non-ASCII local part has no ASCII form; it stays as is (it needs SMTPUTF8).
    """
    found = validate_email(email, check_deliverability=False)
    return found.ascii_email or found.normalized


def _normalised(email: str | None) -> str:
    try:
        return validate_email(email or "", check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return ""


# --- what the templates see ----------------------------------------------------

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
        if f.type == "select":
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
