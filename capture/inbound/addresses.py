"""Each lead's reply address, `lead+<token>@<CAPTURE_REPLY_DOMAIN>`.

The token is a keyed hash (HMAC-SHA256 under the secret key) of the lead's id, in lower-case
base32: it cannot be guessed or made without the key, says nothing about the lead, and is the
same in every message about one lead, so a conversation keeps one address. A mail server may
change the case of a local part; lower case survives that. Tokens are found again through
`reply_addresses`, written when a message carrying one is built; an address stops working
LIFETIME after the last message that carried it, or as soon as its lead is gone.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from capture.db.engine import writing
from capture.db.models import leads, reply_addresses

LOCAL_PREFIX = "lead+"
TOKEN_LENGTH = 26  # 130 bits of the HMAC
LIFETIME = timedelta(days=400)  # a reply a year after the last message still lands
TOKEN = re.compile(rf"[a-z2-7]{{{TOKEN_LENGTH}}}")


def token_for(secret: str, lead_id: str) -> str:
    """The lead's reply token."""
    digest = hmac.new(secret.encode(), b"reply-address:" + lead_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:TOKEN_LENGTH]


def issue(engine: Engine, secret: str, domain: str, lead_id: str, now: datetime) -> str:
    """The lead's reply address, noted as handed out now (so it works for LIFETIME from now)."""
    token = token_for(secret, lead_id)
    with writing(engine) as conn:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(reply_addresses)
        conn.execute(insert.values(token=token, lead_id=lead_id, issued_at=now).on_conflict_do_update(
            index_elements=[reply_addresses.c.token], set_={"issued_at": now}))
    return f"{LOCAL_PREFIX}{token}@{domain}"


def token_in(address: str, domain: str) -> str | None:
    """The token of `address` if it is a reply address on `domain` (any case), else None."""
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not at or host.lower().rstrip(".") != domain or not local.lower().startswith(LOCAL_PREFIX):
        return None
    token = local[len(LOCAL_PREFIX):].lower()
    return token if TOKEN.fullmatch(token) else None


def lead_of(conn: Connection, token: str, now: datetime) -> str | None:
    """The lead a token names, if it was handed out, is not past LIFETIME and the lead is not erased."""
    row = conn.execute(select(reply_addresses.c.lead_id, reply_addresses.c.issued_at, leads.c.anonymised_at)
                       .join(leads, leads.c.id == reply_addresses.c.lead_id)
                       .where(reply_addresses.c.token == token)).first()
    if row is None or row.anonymised_at is not None or now - row.issued_at > LIFETIME:
        return None
    return row.lead_id
