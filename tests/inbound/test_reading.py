"""Reading a received message: the new text without quoted history, and automatic mail."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from capture.inbound.reading import automatic, read
from email import message_from_bytes, policy

OUTLOOK = b"""From: Maya Patel <maya@fernleaf.example>\r
To: Ada Lovelace <ada@analytical.example.com>, lead+abc@reply.fernleaf.example\r
Subject: RE: Consultation request\r
Date: Mon, 14 Dec 2026 09:20:00 +0000\r
Message-ID: <AM0PR01MB1234@outlook.example>\r
Content-Type: text/plain; charset="utf-8"\r
Content-Transfer-Encoding: quoted-printable\r
\r
Hello Ada,=0D=0A=0D=0AWe can meet on Tuesday =E2=80=93 I will send an invite.\r
\r
Kind regards,\r
Maya\r
\r
From: Fernleaf Studio leads <leads@fernleaf.example>\r
Sent: Friday, December 11, 2026 5:00 PM\r
To: Maya Patel <maya@fernleaf.example>\r
Subject: Consultation request: Ada Lovelace\r
\r
Ada Lovelace asked for a consultation.\r
"""


def test_an_outlook_reply_is_read_without_the_message_it_answers():
    found = read(OUTLOOK, "maya@fernleaf.example")
    assert found.from_addr == "maya@fernleaf.example"
    assert found.recipients == ("ada@analytical.example.com", "lead+abc@reply.fernleaf.example")
    assert found.sent_at == datetime(2026, 12, 14, 9, 20, tzinfo=timezone.utc)
    assert found.text.startswith("Hello Ada,") and "Tuesday – I will send" in found.text
    assert "asked for a consultation" not in found.text and "Sent:" not in found.text
    assert found.automatic is None and found.message_id == "<AM0PR01MB1234@outlook.example>"


@pytest.mark.parametrize("header, expected", [
    ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
    ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
    ("X-Autoreply: yes", "X-Autoreply"),
    ("Precedence: bulk", "Precedence: bulk"),
    ("Precedence: list", "Precedence: list"),
    ("List-Id: <news.example.com>", "List-Id"),
    ("X-Capture-Lead: abc", "our own message"),
])
def test_automatic_mail_is_known_by_its_headers(header, expected):
    msg = message_from_bytes(f"{header}\r\nFrom: a@example.com\r\n\r\nAway.\r\n".encode(), policy=policy.default)
    assert automatic(msg, "a@example.com") == expected


@pytest.mark.parametrize("header", ["Auto-Submitted: no", "Precedence: first-class", ""])
def test_a_persons_message_is_not_automatic(header):
    msg = message_from_bytes(f"{header}\r\nFrom: a@example.com\r\n\r\nHello.\r\n".encode(), policy=policy.default)
    assert automatic(msg, "a@example.com") is None


def test_a_message_from_the_null_sender_is_a_bounce():
    msg = message_from_bytes(b"From: MAILER-DAEMON@example.com\r\n\r\nUndeliverable.\r\n", policy=policy.default)
    assert automatic(msg, "") == "bounce"


@pytest.mark.parametrize("raw", [b"", b"\x00\xff garbage", b"Date: not a date\r\nFrom: <<>>\r\n\r\n",
                                 b"Content-Type: text/html\r\n\r\n<p>only html</p>\r\n"])
def test_a_malformed_message_is_read_with_empty_fields_never_an_error(raw):
    found = read(raw, "x@example.com")
    assert found.sent_at is None or found.sent_at.tzinfo is not None
    assert isinstance(found.text, str) and isinstance(found.subject, str)
