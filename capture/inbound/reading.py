"""Reading a received message: its headers, the new text without the quoted history, and whether
it is automatic mail (an out-of-office, an auto-responder, a bounce, a list, our own echoed back).

The message is parsed only to read it; what is stored and shown as "the message" is always the
bytes as received (receiving.py keeps them). A header that cannot be read is treated as absent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

from mailparser_reply import EmailReplyParser

AUTO_PRECEDENCE = {"bulk", "auto_reply", "list", "junk"}
REPORT_TYPES = {"multipart/report"}  # delivery and read reports (RFC 3464, 8098)
UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TEXT_MAX = 20_000  # the new text of a reply is short; a pasted document is cut here (raw keeps all)


@dataclass(frozen=True)
class Read:
    """What a message says about itself."""
    message_id: str
    from_addr: str  # lower case; "" when there is no readable From
    recipients: tuple[str, ...]  # To and Cc, lower case
    subject: str
    sent_at: datetime | None  # the Date header
    text: str  # the new text, without quoted history
    automatic: str | None  # why it is automatic mail, or None for a person's message


def read(raw: bytes, envelope_from: str) -> Read:
    """The message's fields; never raises for a malformed message (a field is then empty)."""
    msg = message_from_bytes(raw, policy=policy.default)
    message_id = _header(msg, "Message-ID").strip()
    return Read(message_id=message_id, from_addr=_first_address(msg, "From"),
                recipients=tuple(_addresses(msg, "To") + _addresses(msg, "Cc")),
                subject=_printable(_header(msg, "Subject"))[:998], sent_at=_date(msg),
                text=new_text(msg), automatic=automatic(msg, envelope_from))


def automatic(msg: EmailMessage, envelope_from: str) -> str | None:
    """Which sign says a machine sent this (RFC 3834, RFC 3464 and the de facto headers), or None."""
    auto_submitted = _header(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted[:20]}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if msg.get(name) is not None:
            return name
    precedence = _header(msg, "Precedence").strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if msg.get("List-Id") is not None:
        return "List-Id"
    if not envelope_from or msg.get_content_type() in REPORT_TYPES:
        return "bounce"  # a null sender (MAIL FROM:<>) is a delivery report by definition
    if msg.get("X-Capture-Lead") is not None:
        return "our own message"  # our headers on it: one of ours came back
    return None


def new_text(msg: EmailMessage) -> str:
    """The text the sender wrote in this message, without the history it quotes.

    Read from the text part (an HTML-only message keeps its text in the raw message until the
    desk learns to show HTML safely).
    """
    try:
        part = msg.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
    except (LookupError, ValueError, AttributeError):
        text = ""
    if not text.strip():
        return ""
    reply = EmailReplyParser(languages=["en"]).parse_reply(text=text)
    return _printable(reply or text, keep_lines=True).strip()[:TEXT_MAX]


def _header(msg: EmailMessage, name: str) -> str:
    try:
        return str(msg.get(name) or "")
    except (ValueError, TypeError, IndexError):
        return ""


def _addresses(msg: EmailMessage, name: str) -> list[str]:
    values = msg.get_all(name) or []
    try:
        found = getaddresses([str(v) for v in values])
    except (ValueError, TypeError, IndexError):
        return []
    return [addr.strip().lower() for _, addr in found if "@" in addr]


def _first_address(msg: EmailMessage, name: str) -> str:
    found = _addresses(msg, name)
    return found[0] if found else ""


def _date(msg: EmailMessage) -> datetime | None:
    try:
        sent = parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    if sent is None:
        return None
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=timezone.utc)


def _printable(text: str, keep_lines: bool = False) -> str:
    """Control characters out (a terminal or a log never sees them); line breaks kept if asked."""
    text = text.replace("\r\n", "\n")
    if not keep_lines:
        text = " ".join(text.split())
    return UNPRINTABLE.sub("", text)
