"""Magic sign-in links for the desk: made on request, mailed through the outbox, used once.

A link row lives 15 minutes; the token in the email names it (tokens.py) and
the sign-in POST marks it used in one conditional UPDATE, so a link works once
even if two devices press the button at the same moment.

Asking costs the same for anyone: a team member's request and a stranger's run
the same statements on the same tables, so the time an answer takes tells
nobody who is on the team. A request nobody is to receive leaves a row without
an address, already expired, its message recorded as dropped.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from capture.delivery.registry import Kind
from capture.db.models import outbox, sign_in_links, sign_outs
from capture.delivery.outbox import job, wake_workers
from capture.privacy.erasure import ERASED
from capture.schema.sales import Sales
from capture.db.engine import writing
from capture.core.tokens import SIGN_IN_LIFETIME
from capture.delivery import mail
from capture.delivery.registry import Rendering, Unwanted, register
from capture.core import tokens
from capture.core import urls
from capture.delivery.status import JobStatus

# At most this many unused, unexpired links per address: past it no more mail (the page says the same),
# and the links already in that inbox still work. One requester may ask 5 times an hour (desk/auth.py),
# so a stranger alone never reaches it; many together cannot mail-bomb anyone (40 an hour at most).
LIVE_LINKS = 10


def request_link(engine: Engine, sales: Sales, email: str, domain: str, now: datetime) -> bool:
    """Queue a sign-in email if `email` is on the team and has fewer than LIVE_LINKS live links.

    True if mail was queued; either way the same statements ran (see the module's docstring).
    """
    member = sales.member(email)
    address = member.email if member else email
    link_id = secrets.token_urlsafe(18)
    with writing(engine) as conn:
        live = conn.execute(select(func.count()).select_from(sign_in_links).where(
            sign_in_links.c.email == address, sign_in_links.c.used_at.is_(None),
            sign_in_links.c.expires_at > now)).scalar()
        mailed = member is not None and live < LIVE_LINKS
        conn.execute(sign_in_links.insert(), {
            "id": link_id, "email": address if mailed else ERASED, "created_at": now,
            "expires_at": now + SIGN_IN_LIFETIME if mailed else now, "used_at": None})
        message = job(None, Kind.SIGN_IN, address if mailed else ERASED, f"<sign-in.{link_id}@{domain}>", now,
                      ref=link_id)
        if not mailed:
            message.update(status=JobStatus.DROPPED, last_error="not sent: not on the team, or "
                                                        f"{LIVE_LINKS} links to the address are live")
        conn.execute(outbox.insert(), message)
    wake_workers()
    return mailed


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


def init_app() -> None:
    """The sign-in email is the desk's message kind."""
    register(Kind.SIGN_IN, render)


def render(r: Rendering, job: dict):
    """A desk sign-in email: the link row must exist and still be unused."""
    cap = r.capture
    link = get_link(cap.engine, job["ref"] or "")
    if link is None or link["used_at"] is not None or link["expires_at"] <= r.now:
        raise Unwanted("the sign-in link was used or has expired")
    member = cap.sales.member(link["email"])
    if member is None:
        raise Unwanted("the address is no longer on the team")
    url = urls.external(cap.settings.public_url,
                        f"/desk/sign-in/{tokens.sign_in_token(cap.settings.secret_key, link['id'])}")
    ctx = {"url": url, "name": member.name, "minutes": int(SIGN_IN_LIFETIME.total_seconds() // 60)}
    return mail.assemble(r.env, job, Kind.SIGN_IN, ctx, mail_from=cap.settings.mail_from)
