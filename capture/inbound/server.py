"""The inbound SMTP service (aiosmtpd): mail for the leads' reply addresses, and nothing else.

Not an open relay: a recipient is accepted at RCPT only when it is a reply address on
CAPTURE_REPLY_DOMAIN whose token names a lead (550 otherwise), and nothing received is ever
sent on. A message is answered 250 only after it is committed with its event
(receiving.py); if storing fails the answer is 451, so the sending server tries again
later and nothing it was told we took is lost. The database work runs off the event loop.
"""
from __future__ import annotations

import asyncio
import logging
from functools import partial

from aiosmtpd.controller import Controller

from capture.context import Capture
from capture.core.clock import utcnow
from capture.inbound import addresses, receiving

MAX_SIZE = 10 * 1024 * 1024  # a reply with a photo or two; larger is refused (552) at DATA
log = logging.getLogger("capture.inbound")


class Inbound:
    """aiosmtpd's handler: RCPT decides whether we take mail for an address, DATA stores it."""

    def __init__(self, cap: Capture):
        self.cap = cap
        self.domain = cap.settings.reply_domain

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Accept a reply address of a lead that can take mail; 550 for any other address."""
        token = addresses.token_in(address, self.domain) if self.domain else None
        if token is None:
            return "550 5.7.1 Not a reply address of this service (no relaying)"
        lead_id = await _off_loop(self._lead_of, token)
        if lead_id is None:
            return "550 5.1.1 This reply address is not in use"
        envelope.rcpt_tos.append(address)
        envelope.lead_ids = [*getattr(envelope, "lead_ids", []), lead_id]
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        """Store the message for its leads, then (only then) answer 250."""
        raw = envelope.original_content or envelope.content or b""
        try:
            new = await _off_loop(receiving.receive, self.cap, raw, envelope.mail_from or "",
                                  list(getattr(envelope, "lead_ids", [])), utcnow())
        except Exception:  # any database failure: the sender keeps the message and tries again
            log.exception("could not store a received message")
            return "451 4.3.0 Could not store the message; please try again later"
        log.info("received a message for %d lead(s), %d new", len(envelope.lead_ids), new)
        return "250 2.0.0 Stored"

    def _lead_of(self, token: str) -> str | None:
        with self.cap.engine.connect() as conn:
            return addresses.lead_of(conn, token, utcnow())


async def _off_loop(func, *args):
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args))


def controller(cap: Capture, host: str, port: int, max_size: int = MAX_SIZE) -> Controller:
    """The SMTP server on host:port (not started); a message over `max_size` bytes is refused."""
    return Controller(Inbound(cap), hostname=host, port=port, data_size_limit=max_size,
                      ident="capture inbound", server_hostname=cap.settings.reply_domain or None)
