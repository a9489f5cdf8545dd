"""Daily counts of page views and unique visitors, keyed so that nobody can be recognised.

What is kept is one counts row per day, path, referring host and campaign (`page_views`):
how many views, how many different visitors and how many visits viewed it; and one row per
visit, credited to where it began (`visits`, see visits.py).

Unique visitors without identifiers (the approach Plausible documents): a visitor is
HMAC-SHA256(today's random salt, IP address | user agent | site | the counts row). Several
processes must agree on "already counted today", so the keys live in `daily_visitors`
(day, key) with a unique key, not in one process's memory. Why this keeps the promise that
no IP address, user agent or hash is stored next to the counts, and that yesterday's
visitors cannot be recognised:
- `page_views` and `visits` hold the counts and the page/referrer/campaign only; the keys are in
  other tables (`daily_visitors`; `daily_visits`, which names today's visit of a key), deleted
  with the salt, so after the day nothing joins a count to a key.
- The salt is 32 random bytes made on the first view of the day (`daily_salts`), never
  derived from anything. When the next day's salt is made, every older salt and every older
  key (with today's visit of every key) is deleted in the same transaction; the daily
  retention run (privacy.py) deletes any that outlived their day because no beacon came. Without the salt a key cannot be
  recomputed from an IP address and user agent, so an old key, wherever it survived, matches
  nobody; and tomorrow the same person gets a different key.
- Within the day, someone holding the database (or a backup taken that day) and a guessed
  IP address and user agent could test whether that person viewed a given page today: the
  same exposure as Plausible's in-memory salt, for at most a day (plus backup retention).
- `Sec-GPC: 1` or `DNT: 1`: the view counts, no key is computed, the visitor is not counted
  and the view is in no visit.

The day is the business's (CAPTURE_TIMEZONE), as everywhere the report shows days: a
"visitor today" there is one salt's lifetime here. Times come from `utcnow()` (tests inject it).
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import astuple, dataclass
from datetime import date, datetime, time, timedelta
from hashlib import sha256
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from capture.db.models import daily_salts, daily_visitors, daily_visits, page_views
from capture.db.engine import writing
from capture.traffic import visits

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
KEY_LENGTH = 32  # hex digits of the HMAC: 128 bits, no collision at any site's volume
ROW = ("day", "path", "referrer_host", *UTM_FIELDS)  # the counts row's unique key


@dataclass(frozen=True)
class View:
    """One page view, cleaned: what a counts row is keyed by (besides the day)."""
    path: str
    referrer_host: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""


def count_view(engine: Engine, view: View, who: tuple[str, str, str] | None, now: datetime,
               tz: ZoneInfo, allowance: Callable[[date], bool] | None = None) -> bool:
    """Add one view to today's row and to its visit (visits.py); one visitor if `who` is new today for that row.

    One transaction: the salt (made if it is the day's first view), the visitor's keys, the
    visit (carried on, or started by this view), the counts upsert. `allowance(day)` is asked
    before anything new is added (a visitor, a row, a visit): when it says no, a view of an
    existing row counts without the visitor and a visit carries on but none starts, and a view
    that would make a row is not stored at all. Returns whether a visitor was added.
    """
    day = now.astimezone(tz).date()
    row = {"day": day, **dict(zip(ROW[1:], astuple(view)))}
    with writing(engine) as conn:
        salt = todays_salt(conn, day, tz) if who is not None else None
        key = visitor_key(salt, who, view) if who is not None else None
        visit_key = _hmac(salt, *who) if who is not None else None
        # A view within 30 minutes of the visitor's last joins that visit (no allowance needed).
        visit_id = visits.carry_on(conn, day, visit_key, now) if visit_key is not None else None
        starts = visit_key is not None and visit_id is None
        new = key is not None and not _exists(conn, daily_visitors, day=day, key=key)
        new_row = allowance is not None and not _exists(conn, page_views, **row)
        if allowance is not None and (new or new_row or starts) and not allowance(day):
            if new_row:
                return False  # nothing stored: no row, no key, no visit
            new = starts = False  # the view counts in its row (and a visit going on); nothing new starts
        if new:
            new = bool(visits.first_today(conn, day, {"row": key}))  # False: counted a moment ago elsewhere
        if starts:
            visit_id = _start_visit(conn, day, salt, who, view, now, visit_key)
        # A visit counts once for each page it viewed (the report's visits of a page).
        page_visit = visit_id is not None and bool(
            visits.first_today(conn, day, {"page": _hmac(salt, "page", str(visit_id), view.path)}))
        upsert = _insert(conn, page_views).values(**row, views=1, visitors=int(new), visits=int(page_visit))
        conn.execute(upsert.on_conflict_do_update(index_elements=list(ROW), set_={
            "views": page_views.c.views + 1, "visitors": page_views.c.visitors + int(new),
            "visits": page_views.c.visits + int(page_visit)}))
    return new


def _start_visit(conn: Connection, day: date, salt: str, who: tuple[str, str, str], view: View,
                 now: datetime, visit_key: str) -> int:
    """A visit entering with this view; the visitor counted new for what they were not seen with today."""
    entry = {"entry_page": view.path, "referrer_host": view.referrer_host, "utm_source": view.utm_source,
             "utm_medium": view.utm_medium, "utm_campaign": view.utm_campaign}
    keys = {name: _hmac(salt, *who, "entry", name, value) for name, value in visits.entry_values(entry).items()}
    return visits.start(conn, day, visit_key, entry, visits.first_today(conn, day, keys), now)


def _exists(conn: Connection, table, **equal) -> bool:
    """Whether a row with these values exists (a unique index finds it)."""
    found = select(table.c[next(iter(equal))]).where(*(table.c[k] == v for k, v in equal.items())).limit(1)
    return conn.execute(found).first() is not None


def visitor_key(salt: str, who: tuple[str, str, str], view: View) -> str:
    """HMAC-SHA256 keyed by the day's salt over the visitor and the counts row they viewed."""
    return _hmac(salt, *who, *astuple(view))


def _hmac(salt: str, *parts: str) -> str:
    """HMAC-SHA256 keyed by the day's salt over the parts: every key this module keeps for a day."""
    message = "\x1f".join(parts)
    return hmac.new(salt.encode(), message.encode(), sha256).hexdigest()[:KEY_LENGTH]


def todays_salt(conn: Connection, day: date, tz: ZoneInfo) -> str:
    """The day's salt; made by the day's first view (whichever process), deleting all older ones.

    Race-safe: the day is the primary key, so of two processes making it at once one inserts
    and the other (its insert doing nothing) reads the winner's.
    """
    salt = conn.execute(select(daily_salts.c.salt).where(daily_salts.c.day == day)).scalar()
    if salt is not None:
        return salt
    salt = secrets.token_hex(32)
    made = conn.execute(_insert(conn, daily_salts).values(
        day=day, salt=salt, expires_at=end_of_day(day, tz)).on_conflict_do_nothing()
        .returning(daily_salts.c.day)).first()
    if made is None:
        return conn.execute(select(daily_salts.c.salt).where(daily_salts.c.day == day)).scalar_one()
    # A new day: yesterday's salt and keys go now, so nobody can recognise yesterday's visitors.
    # (A view stamped just before midnight and written just after may still add a key for
    # yesterday, or even a fresh salt for it: random, so it recognises nobody from before, and
    # its day is over, so the next day's first view or the retention run deletes both.)
    conn.execute(delete(daily_visitors).where(daily_visitors.c.day < day))
    conn.execute(delete(daily_visits).where(daily_visits.c.day < day))
    conn.execute(delete(daily_salts).where(daily_salts.c.day < day))
    return salt


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The moment the business day ends (its next midnight), for the retention run's backstop."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def _insert(conn: Connection, table):
    """INSERT with ON CONFLICT (SQLite and PostgreSQL spell it alike; SQLAlchemy has one per dialect).

    Whether a row was inserted is read from RETURNING (SQLite 3.35+): psycopg's rowcount is
    gone (-1) once SQLAlchemy has closed the cursor of a statement without rows.
    """
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
