"""Bookings arriving at an unusual rate: one alert an hour to the managers.

Each booking made on the website (appointments.book_with_lead) counts, in its
own transaction and on its turn of the booking lock, the bookings made in the
hour before; past CAPTURE_BOOKING_ALERT it queues one Kind.BOOKING_SURGE message per
manager. The Message-IDs are fixed by the clock hour
(`<surge.2026-12-04T16.maya.at.fernleaf.example@…>`), so a burst alerts once an hour for as
long as it lasts. The worker renders the message from the bookings as stored
when it is sent: counts, times and hosts, nothing about the visitors.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from capture.delivery.registry import Kind
from capture.db.models import bookings, outbox
from capture.delivery.outbox import job
from capture.delivery import mail
from capture.delivery.registry import Rendering, Unwanted, register
from capture.core import urls

WINDOW = timedelta(hours=1)
SHOWN = 60  # bookings listed in one alert; the count says how many more
READER = "manager"


def made_since(since: datetime):
    """The condition for bookings made after `since` (whatever their status now)."""
    # A booking made after `since` starts after it too: the starts_at bound lets the index do the work.
    return (bookings.c.created_at > since) & (bookings.c.starts_at > since)


def alert_jobs(conn: Connection, sales, alert_after: int, domain: str, now: datetime) -> list[dict]:
    """The alert's outbox rows when more than `alert_after` bookings were made in the last hour
    and this hour's alert is not queued yet (0 turns it off).

    Called inside the booking transaction after the booking's own insert, so it is counted;
    the booking lock keeps two bookings from both finding the alert unqueued.
    """
    if alert_after <= 0:
        return []
    made = conn.execute(select(func.count()).where(made_since(now - WINDOW))).scalar()
    if made <= alert_after:
        return []
    hour = now.strftime("%Y-%m-%dT%H")
    # One @ in a Message-ID (as the digest's): the manager's address goes in with its @ spelled out.
    rows = [job(None, Kind.BOOKING_SURGE, member.email,
                f"<surge.{hour}.{member.email.replace('@', '.at.')}@{domain}>"[:250], now,
                ref=now.isoformat()) for member in sales.with_role(READER)]
    queued = set(conn.execute(select(outbox.c.message_id).where(
        outbox.c.message_id.in_([row["message_id"] for row in rows]))).scalars()) if rows else set()
    # Only the missing ones: a duplicate Message-ID would fail the visitor's booking.
    return [row for row in rows if row["message_id"] not in queued]


def context(engine: Engine, sales, tz, raised_at: datetime, alert_after: int, desk_url: str,
            now: datetime) -> dict:
    """What the alert says: the bookings made from an hour before it was raised until now."""
    since = raised_at - WINDOW
    horizon_end = now + timedelta(days=sales.consultation.horizon_days if sales.consultation else 21)
    query = (select(bookings.c.created_at, bookings.c.starts_at, bookings.c.host, bookings.c.status)
             .where(made_since(since)).order_by(bookings.c.created_at))
    upcoming = select(func.count()).where(bookings.c.status == "booked", bookings.c.starts_at > now,
                                          bookings.c.starts_at < horizon_end)
    with engine.connect() as conn:
        made = [dict(row) for row in conn.execute(query).mappings()]
        booked_ahead = conn.execute(upcoming).scalar()
    hosts = {member.email: member.name for member in sales.team}
    return {
        "count": len(made), "alert_after": alert_after, "since": since, "now": now, "tz": tz,
        "still_booked": sum(row["status"] == "booked" for row in made),
        "rows": [{**row, "host_name": hosts.get(row["host"], row["host"])} for row in made[-SHOWN:]],
        "more": max(0, len(made) - SHOWN),
        "first": made[0]["created_at"] if made else None, "last": made[-1]["created_at"] if made else None,
        "booked_ahead": booked_ahead,
        "horizon_days": sales.consultation.horizon_days if sales.consultation else 21,
        "desk_url": desk_url,
    }


def init_app() -> None:
    """The managers' alert is a message kind."""
    register(Kind.BOOKING_SURGE, render)


def render(r: Rendering, job: dict):
    """The managers' alert about bookings at an unusual rate, with the bookings as stored now."""
    cap = r.capture
    member = cap.sales.member(job["recipient"])
    if member is None or READER not in member.roles:
        raise Unwanted("the address is no longer a manager (sales.yml)")
    ctx = context(cap.engine, cap.sales, cap.settings.timezone, datetime.fromisoformat(job["ref"]),
                  cap.settings.booking_alert, urls.external(cap.settings.public_url, "/desk/"), r.now)
    return mail.assemble(r.env, job, Kind.BOOKING_SURGE, {**ctx, "name": member.name},
                         mail_from=cap.settings.mail_from)
