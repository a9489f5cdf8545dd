"""Magic sign-in links for the desk: made on request, mailed through the outbox, used once.

A link row lives 15 minutes; the token in the email names it (tokens.py) and
the sign-in POST marks it used in one conditional UPDATE, so a link works once
even if two devices press the button at the same moment.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from .mail import SIGN_IN
from .models import outbox, sign_in_links, sign_outs
from .outbox import job, wake_workers
from .sales import Sales
from .store import writing
from .tokens import SIGN_IN_LIFETIME


def request_link(engine: Engine, sales: Sales, email: str, domain: str, now: datetime) -> bool:
    """Queue a sign-in email if `email` is on the team; False (and nothing sent) otherwise."""
    member = sales.member(email)
    if member is None:
        return False
    link_id = secrets.token_urlsafe(18)
    with writing(engine) as conn:
        conn.execute(sign_in_links.insert(), {"id": link_id, "email": member.email, "created_at": now,
                                              "expires_at": now + SIGN_IN_LIFETIME, "used_at": None})
        conn.execute(outbox.insert(), job(None, SIGN_IN, member.email, f"<sign-in.{link_id}@{domain}>",
                                          now, ref=link_id))
    wake_workers()
    return True


def get_link(engine: Engine, link_id: str) -> dict | None:
    """A sign-in link row, or None."""
    with engine.connect() as conn:
        found = conn.execute(select(sign_in_links).where(sign_in_links.c.id == link_id)).mappings().first()
    return dict(found) if found else None


def use_link(engine: Engine, link_id: str, now: datetime) -> str | None:
    """Spend a link: the team member's email, or None if it was used already or has expired."""
    with writing(engine) as conn:
        spent = conn.execute(update(sign_in_links)
                             .where(sign_in_links.c.id == link_id, sign_in_links.c.used_at.is_(None),
                                    sign_in_links.c.expires_at > now)
                             .values(used_at=now).returning(sign_in_links.c.email)).scalar()
    return spent


def sign_out(engine: Engine, email: str, now: datetime) -> None:
    """End every session `email` signed in before `now`, on every device (a copied cookie too)."""
    with writing(engine) as conn:
        if not conn.execute(update(sign_outs).where(sign_outs.c.email == email).values(at=now)).rowcount:
            conn.execute(sign_outs.insert(), {"email": email, "at": now})


def signed_out_at(engine: Engine, email: str) -> datetime | None:
    """When `email` last signed out, if ever."""
    with engine.connect() as conn:
        return conn.execute(select(sign_outs.c.at).where(sign_outs.c.email == email)).scalar()
