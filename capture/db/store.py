"""The database: engine set-up, migrations, and the lead's one transaction."""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import time
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (JSON, Boolean, DateTime, Integer, String, create_engine, event, false, func,
                        select, text, update)
from psycopg.types.json import Json
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from capture.schema.forms import ATTRIBUTION_FIELDS
from capture.db.models import UTCDateTime, leads, outbox
from capture.intake.spam import Verdict

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_LOCK = "write_lock"  # the pool record's info key for a SQLite connection's lock file
READING = "capture_reading"  # the execution option of a read-only transaction (reading())
LEAD_COLUMNS = tuple(c.name for c in leads.columns)


def new_lead_id() -> str:
    """An identifier nobody can guess or enumerate: 96 random bits after the time.

    The millisecond time in front (fixed-width hex, so ids sort by age) makes
    every index that starts with a lead id grow at its end: a commit then
    touches a few hot pages instead of a random page per index, which is most
    of what a lead costs the database under load (README, Performance).
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_urlsafe(12)}"


# --- engine ------------------------------------------------------------------

def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and write-locking BEGINs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pool_pre_ping: it would ping LeadWriter's raw connections too, a third round trip
        # for a lead that takes two (LeadWriter retries a connection found dead instead).
        # Core connections, which everything else uses, are pinged as they are taken.
        engine = create_engine(url, pool_size=8, max_overflow=8, pool_recycle=3600)
        event.listen(engine, "engine_connect", _ping)
        return engine
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    lock_path = parsed.database + "-writelock"
    event.listen(engine, "connect", lambda conn, record: _sqlite_connect(conn, record, lock_path))
    event.listen(engine, "close", _sqlite_close)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _ping(conn: Connection) -> None:
    """Make sure a Core connection's server connection is alive before it is used (PostgreSQL).

    After a database restart or a terminated backend, the pool still holds connections to a
    server that is gone: the first statement on one would fail (a desk page, a beacon, a
    booking). A failed ping discards the connection and, on a disconnect, the whole pool; the
    connection's first statement then opens a fresh one, or fails as any statement does
    (SQLAlchemyError) if the database is still down.
    """
    dbapi_conn = conn.connection.dbapi_connection
    try:
        conn.dialect.do_ping(dbapi_conn)
    except conn.dialect.loaded_dbapi.Error as exc:
        disconnected = conn.dialect.is_disconnect(exc, dbapi_conn, None)
        conn.invalidate(exc)
        if disconnected:
            conn.engine.dispose()  # as LeadWriter: a restart kills every pooled connection


def _sqlite_connect(dbapi_conn, record, lock_path: str):
    # Autocommit at the driver level, so the "begin" hook decides how to BEGIN.
    dbapi_conn.isolation_level = None
    # One lock file descriptor per connection (see write_lock), closed with it.
    record.info[WRITE_LOCK] = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    # Turning a new database to WAL needs its exclusive lock; two processes doing
    # it at once can deadlock inside SQLite, which then fails one of them with
    # "database is locked" without waiting. Take turns on the lock file instead.
    with write_lock(record):
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
    # synchronous=NORMAL in WAL mode: a commit survives any crash of the process
    # (tested); only an OS crash or power cut can roll back the last commits.
    # The WAL keeps SQLite's default checkpoint size: a larger one was no
    # faster under load and doubled p99 (bench/capture_throughput.py).
    for pragma in ("synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON", "mmap_size=268435456"):
        dbapi_conn.execute(f"PRAGMA {pragma}")


def _sqlite_close(dbapi_conn, record) -> None:
    # The pool closes a connection (overflow, invalidation, dispose): its lock file goes too.
    fd = record.info.pop(WRITE_LOCK, None)
    if fd is not None:
        os.close(fd)


@contextmanager
def write_lock(pooled) -> Iterator[None]:
    """Hold this SQLite connection's turn to write (nothing on PostgreSQL).

    `pooled` is anything carrying the pool record's `info`: a pool record, a
    raw pooled connection, or `Connection.connection`. SQLite's own busy
    handler sleeps in growing steps while another writer holds the database;
    writers queued on a blocking flock of one lock file are woken at once.
    """
    fd = pooled.info.get(WRITE_LOCK)
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A Core connection in a write transaction, taking its turn on SQLite."""
    with engine.connect() as conn:
        with write_lock(conn.connection), conn.begin():
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A Core connection in a read transaction: one snapshot, and writers never wait for it.

    For reads that take a while (reports.py): on SQLite a deferred BEGIN instead of the write
    lock every other transaction takes up front (in WAL mode a reader and the writer do not
    wait for each other), so a report never holds up a lead; on PostgreSQL REPEATABLE READ,
    so that every statement sees the same moment.
    """
    with engine.connect() as conn:
        conn.execution_options(**{READING: True}, **(
            {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}))
        with conn.begin():
            yield conn


def _sqlite_begin(conn):
    # IMMEDIATE takes the write lock up front: two writers then queue on the
    # busy timeout instead of one failing with "database is locked" on upgrade.
    # A connection from reading() only reads: a deferred BEGIN leaves writers alone.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READING) else "BEGIN IMMEDIATE")


# --- migrations --------------------------------------------------------------

def alembic_config() -> AlembicConfig:
    """Alembic's configuration, pointing at capture/migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe when several processes start at once."""
    if is_current(engine):
        return
    with _migration_lock(engine), engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def _migration_lock(engine: Engine):
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(872411)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(872411)"))
                conn.commit()
        return
    lock_path = Path(engine.url.database + ".migrate-lock")
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- leads -------------------------------------------------------------------

def lead_row(form_id: str, values: dict, attribution: dict, *, verdict: Verdict,
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


# --- report keys ---------------------------------------------------------------
# The report (reports.py) groups leads by page and referring site and matches them to the page
# views traffic.py counts. The keys are worked out here, once per lead, so that no query parses
# a URL; the 0007 migration fills them for older leads with these same functions.

PATH_MAX = 300  # as page_views.path (traffic.PATH_MAX)
REFERRER_SCAN = 2048  # the host is near the start; a long query string is never parsed whole
HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")  # as a browser serialises it (IDNA applied)


def url_path(url: str | None) -> str | None:
    """The path of a page's URL, as `location.pathname` gives it (what page_views.path holds).

    None for anything that is not an absolute URL or a path of a site: a query and fragment
    never belong to the key (a query can carry anything, an address included).
    """
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:  # a malformed IPv6 literal
        return None
    if parts.path.startswith("/") and not parts.path.startswith("//"):
        return parts.path[:PATH_MAX]
    return "/" if not parts.path and parts.netloc else None


def url_host(url: str | None) -> str | None:
    """The host of a URL as traffic.clean_referrer keeps it (lower case, no port, no final dot).

    `www.` stays, as it does in page_views.referrer_host, so the two match; None for no URL.
    (tests/test_reports.py holds the two functions to the same answers.)
    """
    try:
        host = (urlsplit((url or "")[:REFERRER_SCAN].strip()).hostname or "").rstrip(".")
    except ValueError:
        return None
    return host if len(host) <= 253 and HOST.fullmatch(host) else None


def attribution_keys(attribution: dict) -> dict:
    """first_page, last_page, first_referrer_host and last_referrer_host of a lead's attribution.

    A referrer on our own site is no referrer, as in page_views: internal navigation is not a
    source. "Our own" is the host of the lead's landing page and form page (with or without
    `www.`), which is what the visitor's browser was on, whatever the settings say.
    """
    page, landing = attribution.get("page_url"), attribution.get("landing_page")
    own = {_bare(host) for host in (url_host(page), url_host(landing)) if host}

    def referrer(url):
        host = url_host(url)
        return None if host is None or _bare(host) in own else host
    return {"first_page": url_path(landing), "last_page": url_path(page),
            "first_referrer_host": referrer(attribution.get("first_referrer")),
            "last_referrer_host": referrer(attribution.get("referrer"))}


def _bare(host: str) -> str:
    return host.removeprefix("www.")


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
