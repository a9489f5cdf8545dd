"""Messages shaped like the ones real mail clients send, and a way to send them by SMTP."""
from __future__ import annotations

import html
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

REPLY_DOMAIN = "reply.fernleaf.example"


def client_reply(original: EmailMessage, *, sender: str, name: str, to: str, at: datetime, text: str,
                 headers: dict | None = None) -> bytes:
    """A Reply from a client like Gmail: text and HTML, a signature, the original quoted below."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(domain="mail.client.example")
    msg["In-Reply-To"] = msg["References"] = original["Message-ID"]
    for key, value in (headers or {}).items():
        msg[key] = value
    body = original.get_body(("plain",)).get_content()
    quoted = "\n".join(f"> {line}" for line in body.splitlines())
    said = f"On {format_datetime(at)}, {original['From']} wrote:"
    signature = f"{name}\nFernleaf Studio | +44 20 7946 0000"
    msg.set_content(f"{text}\n\n-- \n{signature}\n\n{said}\n{quoted}\n")
    msg.add_alternative(
        f'<div dir="ltr">{html.escape(text)}<br><br>-- <br>{html.escape(signature)}</div><br>'
        f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">{html.escape(said)}<br></div>'
        f'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc solid">'
        f'{html.escape(body)}</blockquote></div>', subtype="html")
    return wire(msg)


def wire(msg: EmailMessage) -> bytes:
    """The message as it travels: CRLF line ends (smtplib sends bytes as they are)."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def send(port: int, raw: bytes, rcpt: list[str], mail_from: str = "maya@fernleaf.example") -> dict:
    """Send over SMTP to the inbound service on loopback; the refused recipients (none: {})."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return smtp.sendmail(mail_from, rcpt, raw)
