"""The database: engine set-up, migrations, and the lead's one transaction."""
from __future__ import annotations

import fcntl
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine, make_url

from .forms import ATTRIBUTION_FIELDS
from .models import leads, outbox

MIGRATIONS = Path(__file__).parent / "migrations"
LEAD_COLUMNS = tuple(c.name for c in leads.columns)
# Built once: rebuilding statements per request costs more than the insert itself.
INSERT_LEAD = leads.insert()
INSERT_JOB = outbox.insert()


def utcnow() -> datetime:
    """The current time in UTC (all stored times are UTC)."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def new_lead_id() -> str:
    """An identifier nobody can guess or enumerate (120 random bits)."""
    return secrets.token_urlsafe(15)


# --- engine ------------------------------------------------------------------

def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and write-locking BEGINs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_conn, _record):
    # Autocommit at the driver level, so the "begin" hook decides how to BEGIN.
    dbapi_conn.isolation_level = None
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", "foreign_keys=ON"):
        dbapi_conn.execute(f"PRAGMA {pragma}")


def _sqlite_begin(conn):
    # IMMEDIATE takes the write lock up front: two writers then queue on the
    # busy timeout instead of one failing with "database is locked" on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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

def lead_row(form_id: str, values: dict, attribution: dict, *, spam: str | None,
             consent_version: str | None, received_at: datetime) -> dict:
    """The row for a lead; every column present so the compiled insert is reused."""
    row = dict.fromkeys(LEAD_COLUMNS)
    row.update(id=new_lead_id(), form_id=form_id, received_at=received_at, status="new",
               spam=spam is not None, spam_reason=spam, data=values,
               name=values.get("name"), email=values.get("email"), phone=values.get("phone"),
               company=values.get("company"), service=values.get("service"),
               consent_version=consent_version,
               consent_at=received_at if consent_version else None)
    for key in ATTRIBUTION_FIELDS:
        row[key] = attribution.get(key)
    return row


def save_lead(engine: Engine, row: dict, jobs: list[dict]) -> None:
    """Store a lead and its outbox jobs in one transaction (both or neither)."""
    with engine.begin() as conn:
        conn.execute(INSERT_LEAD, row)
        if jobs:
            conn.execute(INSERT_JOB, jobs)


def get_lead(engine: Engine, lead_id: str) -> dict | None:
    """One lead as a dict, or None."""
    with engine.connect() as conn:
        found = conn.execute(select(leads).where(leads.c.id == lead_id)).mappings().first()
    return dict(found) if found else None


def outbox_counts(engine: Engine) -> dict:
    """How many outbox jobs are in each status, plus the oldest waiting job's age."""
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.status, func.count(), func.min(outbox.c.available_at))
                            .group_by(outbox.c.status)).all()
    counts = {"pending": 0, "sending": 0, "sent": 0, "dead": 0}
    oldest = None
    for status, count, first_due in rows:
        counts[status] = count
        if status in ("pending", "sending") and first_due is not None:
            first_due = as_utc(first_due)
            oldest = first_due if oldest is None else min(oldest, first_due)
    counts["oldest_waiting_seconds"] = (
        round((utcnow() - oldest).total_seconds(), 1) if oldest else 0)
    return counts
