"""Leads in the database: the lead's one transaction (LeadWriter) and reading a lead back."""
from __future__ import annotations

import json
import re
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Callable, Protocol

from psycopg.types.json import Json
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, false, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from capture.db.engine import write_lock
from capture.db.models import UTCDateTime, leads, outbox
from capture.db.report_keys import attribution_keys
from capture.schema.forms import ATTRIBUTION_FIELDS

LEAD_COLUMNS = tuple(c.name for c in leads.columns)


def new_lead_id() -> str:
    """An identifier nobody can guess or enumerate: 96 random bits after the time.

    The millisecond time in front (fixed-width hex, so ids sort by age) makes
    every index that starts with a lead id grow at its end: a commit then
    touches a few hot pages instead of a random page per index, which is most
    of what a lead costs the database under load (README, Performance).
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_urlsafe(12)}"


class Judged(Protocol):
    """What a lead's row keeps of the spam filter's verdict (intake.spam.Verdict)."""
    label: str
    reasons: tuple[str, ...]

    @property
    def spam(self) -> bool: ...


def lead_row(form_id: str, values: dict, attribution: dict, *, verdict: Judged,
             consent_version: str | None, received_at: datetime, body_hash: str | None = None) -> dict:
    """The row for a lead; every column present so the compiled insert is reused."""
    row = dict.fromkeys(LEAD_COLUMNS)
    row.update(id=new_lead_id(), form_id=form_id, received_at=received_at, status="new",
               spam=verdict.spam, verdict=verdict.label, spam_reasons=list(verdict.reasons) or None,
               body_hash=body_hash, data=values,
               name=values.get("name"), email=values.get("email"), phone=values.get("phone"),
               company=values.get("company"), service=values.get("service"),
               consent_version=consent_version,
               consent_at=received_at if consent_version else None, stage_reached=0)
    for key in ATTRIBUTION_FIELDS:
        row[key] = attribution.get(key)
    row.update(attribution_keys(attribution))
    return row


class StoreError(Exception):
    """A lead could not be stored (the transaction was rolled back)."""


class _StaleConnection(Exception):
    """The pooled connection was dead before the transaction began."""


class LeadWriter:
    """Writes a lead and its jobs in one transaction on a pooled driver connection.

    This is the request's hot path. SQL is compiled once from the Core tables
    (so models.py stays the only definition), and values are converted here
    instead of through SQLAlchemy's per-execution machinery, which costs
    several times the insert itself (see README, Performance).
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.lead_sql, self.lead_params = _compiled(leads, engine, LEAD_COLUMNS)
        self.job_sql, self.job_params = _compiled(outbox, engine, JOB_COLUMNS)
        self.dbapi_error = engine.dialect.loaded_dbapi.Error

    def save(self, row: dict, jobs_for: Callable[[dict], list[dict]], turn: Turn | None = None) -> dict:
        """Insert the lead and its jobs, committed together or not at all; returns the row stored.

        `jobs_for(row)` makes the jobs once the owner is known: with a `turn`
        (round robin), whose turn it is is read inside this transaction, where
        SQLite's writers queue, so two leads at once still go to two people.
        """
        try:
            return self._save(row, jobs_for, turn)
        except _StaleConnection:
            # The pooled connection died (database restart) before anything was
            # sent, so nothing can have been committed: one retry is safe.
            return self._save(row, jobs_for, turn)

    def _save(self, row: dict, jobs_for, turn: Turn | None) -> dict:
        try:
            conn = self.engine.raw_connection()
        except (SQLAlchemyError, self.dbapi_error) as exc:  # unreachable server, unreadable file
            raise StoreError(_error_name(exc)) from exc
        stage = "insert"
        try:
            with write_lock(conn):
                cursor = conn.cursor()
                if self.sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                if turn is not None:  # before the pipeline: its answer is needed now
                    cursor.execute(self._last_owner_sql(turn.form_id))
                    found = cursor.fetchone()
                    row = {**row, "owner": turn.after(found[0] if found else None)}
                jobs = jobs_for(row)
                with _pipeline(conn, self.sqlite):
                    cursor.execute(self.lead_sql, self.lead_params(row))
                    if jobs:
                        cursor.executemany(self.job_sql, [self.job_params(j) for j in jobs])
                stage = "commit"
                conn.commit()
            return row
        except self.dbapi_error as exc:
            disconnected = self.engine.dialect.is_disconnect(exc, conn.dbapi_connection, None)
            # A connection that failed a write never goes back to the pool: it may
            # be stuck that way (SQLite opened during a read-only spell stays
            # read-only), and closing it rolls back whatever it had begun.
            conn.invalidate()
            if disconnected:
                # A restart kills every pooled connection: start the pool afresh.
                self.engine.dispose()
                if stage == "insert":
                    raise _StaleConnection() from exc
            raise StoreError(type(exc).__name__) from exc
        finally:
            conn.close()

    @lru_cache(maxsize=64)
    def _last_owner_sql(self, form_id: str) -> str:
        # The form id is a forms.yml id, so it can be inlined.
        query = last_owner(form_id)
        return str(query.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))


def last_owner(form_id: str):
    """The query for the owner of the form's newest owned lead (whose turn it was last)."""
    return (select(leads.c.owner).where(leads.c.form_id == form_id, leads.c.owner.is_not(None))
            .order_by(leads.c.received_at.desc()).limit(1))


@dataclass(frozen=True)
class Turn:
    """A round robin over `members` for one form: whose turn follows the last owner."""
    form_id: str
    members: tuple[str, ...]

    def after(self, last: str | None) -> str:
        """The member after `last` (the first one when `last` is not among them)."""
        if last not in self.members:
            return self.members[0]
        return self.members[(self.members.index(last) + 1) % len(self.members)]


def _pipeline(conn, sqlite: bool):
    # PostgreSQL: BEGIN and the inserts go to the server in one round trip
    # instead of three. The COMMIT stays outside, so a connection that fails
    # in here has certainly committed nothing (LeadWriter.save retries it).
    return nullcontext() if sqlite else conn.driver_connection.pipeline()


JOB_COLUMNS = tuple(c.name for c in outbox.columns if c.name != "id")


def _compiled(table, engine: Engine, keys: tuple[str, ...]):
    """The INSERT's SQL for this dialect, and a function turning a row into its parameters."""
    compiled = table.insert().compile(dialect=engine.dialect, column_keys=list(keys))
    order = tuple(compiled.positiontup or keys)
    sqlite = engine.dialect.name == "sqlite"
    converters = {key: _converter(table.c[key].type, sqlite) for key in order}
    special = tuple((k, c) for k, c in converters.items() if c is not None)

    def params(row: dict):
        values = dict(row)
        for key, convert in special:
            if values[key] is not None:
                values[key] = convert(values[key])
        return tuple(values[k] for k in order) if sqlite else values

    return compiled.string, params


def _converter(column_type, sqlite: bool):
    """How a value of this column type reaches the driver; TypeError for a type not handled here.

    The storage formats are the ones SQLAlchemy itself uses, so its reads agree
    with these writes. A new column of another type stops the app at start
    (LeadWriter compiles every insert then) instead of reaching the driver raw.
    """
    if isinstance(column_type, JSON):
        return (lambda v: json.dumps(v, ensure_ascii=False)) if sqlite else Json
    if isinstance(column_type, (DateTime, UTCDateTime)):
        return _sqlite_datetime if sqlite else None  # psycopg takes aware datetimes
    if isinstance(column_type, Boolean):
        return int if sqlite else None
    if isinstance(column_type, (String, Integer)):
        return None  # both drivers take str and int as they are
    raise TypeError(f"store.LeadWriter cannot write a {type(column_type).__name__} column yet: "
                    "add its conversion to store._converter")


@lru_cache(maxsize=8)
def _sqlite_datetime(moment: datetime) -> str:
    # A lead and its jobs share one timestamp: format it once.
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _error_name(exc: Exception) -> str:
    return type(getattr(exc, "orig", None) or exc).__name__


def check_writes(engine: Engine) -> None:
    """Raise SQLAlchemyError unless the database takes writes now (a write that changes nothing)."""
    with engine.connect() as conn:
        try:
            with write_lock(conn.connection), conn.begin():
                conn.execute(update(leads).where(false()).values(status=leads.c.status))
        except SQLAlchemyError:
            conn.invalidate()  # as in LeadWriter: never pool a connection stuck read-only
            raise


LEAD_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")


def get_lead(engine: Engine, lead_id: str) -> dict | None:
    """One lead as a dict, or None (also for anything that cannot be a lead id)."""
    if not LEAD_ID.fullmatch(lead_id or ""):
        return None
    with engine.connect() as conn:
        found = conn.execute(select(leads).where(leads.c.id == lead_id)).mappings().first()
    return dict(found) if found else None


def repeats(engine: Engine, body_hash: str, email: str | None, since: datetime) -> int:
    """How many other addresses sent a message with this fingerprint since then (0 if unknown now)."""
    query = select(func.count(func.distinct(leads.c.email))).where(
        leads.c.body_hash == body_hash, leads.c.received_at >= since, leads.c.email != (email or ""))
    try:
        with engine.connect() as conn:
            return conn.execute(query).scalar() or 0
    except SQLAlchemyError:
        return 0  # a hint, not a reason to refuse the lead: storing it reports its own failure


def history(engine: Engine, lead: dict) -> tuple[int, datetime | None]:
    """How many earlier leads came from the same email, and when the last one did."""
    if not lead.get("email"):
        return 0, None
    query = select(func.count(), func.max(leads.c.received_at)).where(
        leads.c.email == lead["email"], leads.c.received_at < lead["received_at"],
        leads.c.id != lead["id"])
    with engine.connect() as conn:
        count, last = conn.execute(query).one()
    return count, last
