"""Assembling an email: templates into a 7-bit MIME message with literal headers.

Every message is built from Jinja2 templates in templates/email/ (a plain-text
and an HTML part; HTML is autoescaped) into an `email.message.EmailMessage`.
A message about a consultation also carries its iCalendar file the way Gmail
and Outlook recognise an invitation: an inline `text/calendar; method=…;
charset=UTF-8` alternative next to the text and HTML, plus the same file as a
`consultation.ics` attachment for clients that only import files. Every part
is 7-bit (non-ASCII text quoted-printable), so no relay without 8BITMIME can
mangle it. Every value from a visitor that reaches a header is made one line
and set as a literal header object (headers.py), never parsed or decoded as
header syntax, so a lead can never add or change a header, a recipient or the
message's structure. What a message says is its capability's (the registry
finds its renderer); sending is transport.py's job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from capture.core import formatting
from capture.core.clock import utcnow
from capture.delivery.headers import LiteralAddress, LiteralAddresses, LiteralText
from capture.delivery.registry import RenderError

CALENDAR_CHARSET = "UTF-8"  # as the iTIP examples and Gmail's own invitations write it
HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


@dataclass(frozen=True)
class CalendarPart:
    """An iCalendar file and its Content-Type parameters (the METHOD clients act on)."""
    ics: bytes
    params: dict


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


def assemble(env: Environment, job: dict, kind: str, ctx: dict, *, mail_from: Address | str,
             reply_to=None, auto_submitted: str = "auto-generated",
             calendar: CalendarPart | None = None) -> EmailMessage:
    """The message for `job` from `kind`'s templates (subject, text, HTML) rendered with `ctx`."""
    msg = headers(job, mail_from, one_line(env.get_template(f"{kind}.subject.txt").render(ctx)))
    msg["Auto-Submitted"] = auto_submitted
    if reply_to:
        msg["Reply-To"] = reply_to
    body(env, msg, kind, ctx, calendar)
    return msg


def headers(job: dict, mail_from: Address | str, subject: str) -> EmailMessage:
    """A message with its From, To, Subject, Date, Message-ID and lead headers, and no body yet."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = address("To", job["recipient"])
    msg["Subject"] = LiteralText("Subject", subject)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = job["message_id"]
    if job.get("lead_id"):
        msg["X-Capture-Lead"] = one_line(job["lead_id"], 40)
    return msg


def body(env: Environment, msg: EmailMessage, kind: str, ctx: dict,
          calendar: CalendarPart | None = None) -> None:
    """Text and HTML as alternatives, and the calendar as a third one.

    Gmail and Outlook show an invitation's buttons for an inline text/calendar
    alternative with a `method`; the attachment is for clients that import files.
    """
    _text(msg.set_content, env.get_template(f"{kind}.txt").render(ctx))
    _text(msg.add_alternative, env.get_template(f"{kind}.html").render(ctx), subtype="html")
    if calendar is None:
        return
    _text(msg.add_alternative, calendar.ics.decode("utf-8"), subtype="calendar", charset=CALENDAR_CHARSET,
          params=calendar.params)
    msg.add_attachment(calendar.ics, maintype="application", subtype="ics", filename="consultation.ics")


def _text(add, text: str, **kwargs) -> None:
    """A text part that is 7-bit on the wire.

    Left to itself the email package writes non-ASCII text as raw 8-bit, which
    SMTP may only carry to a server that offers 8BITMIME and a client that
    declares it; quoted-printable keeps such text readable and safe everywhere.
    ASCII text is left to the package (7bit, or an encoding for long lines).
    """
    add(text, cte=None if text.isascii() else "quoted-printable", **kwargs)


def address(header: str, email: str, name: str = "") -> LiteralAddress:
    """An address header; RenderError (never a silently missing header) if it cannot be one."""
    try:
        return LiteralAddress(header, ascii_address(email), one_line(name, 120))
    except (EmailNotValidError, ValueError) as exc:
        raise RenderError(f"{header}: the address cannot go into a header ({type(exc).__name__})") from None


def reply_to(*who: tuple[str, str]) -> LiteralAddress | LiteralAddresses | None:
    """A Reply-To to each (address, name) given (an empty address is left out); None for none."""
    parts = [address("Reply-To", email, name) for email, name in who if email]
    if len(parts) < 2:
        return parts[0] if parts else None
    return LiteralAddresses("Reply-To", *parts)


def ascii_address(email: str) -> str:
    """An address as headers and SMTP want it: an internationalised domain in punycode.

    A non-ASCII local part has no ASCII form; it stays as is (it needs SMTPUTF8).
    """
    found = validate_email(email, check_deliverability=False)
    return found.ascii_email or found.normalized


def normalised(email: str | None) -> str:
    """An address compared as the same mailbox however it is written; "" if it is none."""
    try:
        return validate_email(email or "", check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return ""
