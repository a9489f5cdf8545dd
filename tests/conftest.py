"""Shared fixtures: real databases (a SQLite file, a PostgreSQL schema of our own), apps, clients, the clock.

An app's SQLite database starts as a copy of one file migrated once per session (Alembic's
seven migrations cost ~60 ms a test; the copy ~1 ms). `sqlite_url` and `pg_url` stay empty
for the tests about migrating. PostgreSQL still migrates each test's schema (~0.1 s): a
schema has no cheap copy (CREATE TABLE ... LIKE shares the template's sequences and drops
its foreign keys; CREATE DATABASE ... TEMPLATE would leave the one-database-many-schemas
set-up CI relies on).

A test that needs a missing service skips with the reason; with
CAPTURE_REQUIRE_SERVICES=1 (CI) it fails instead.

A test whose outcome depends on the time takes the `clock` fixture (a frozen moment it
sets and advances). CAPTURE_TEST_NOW=<ISO 8601 time with offset> runs the whole session
from that moment (time-machine, ticking), to prove that no test depends on the day it runs.
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import create_engine, make_url, text

from capture.core import clock as capture_clock
from capture.db.engine import make_engine
from capture.db.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "tests" / "e2e"
REQUIRE_SERVICES = os.environ.get("CAPTURE_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("CAPTURE_TEST_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CAPTURE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_SECRET = "test-secret-key-0123456789abcdef"
TEST_NOW = os.environ.get("CAPTURE_TEST_NOW", "")
# A Wednesday at 10:00 in London (the default business time zone): within working hours,
# with whole working days on both sides and no bank holiday within a week.
WORKING_MOMENT = datetime(2026, 12, 9, 10, 0, tzinfo=timezone.utc)
BUSINESS_TZ = ZoneInfo("Europe/London")
# The fixtures that build the site (tests/test_site.py, tests/test_zensical.py).
SITE_FIXTURES = {"site", "zsite", "gap_builds"}


def pytest_configure(config):
    """With CAPTURE_TEST_NOW, the whole session runs from that moment (servers in subprocesses do not)."""
    if not TEST_NOW:
        return
    try:
        moment = datetime.fromisoformat(TEST_NOW)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise pytest.UsageError(f"CAPTURE_TEST_NOW={TEST_NOW!r}: use a time with its offset, "
                                "e.g. 2026-12-05T19:30:00+00:00")
    traveller = time_machine.travel(moment, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def pytest_report_header(config):
    if TEST_NOW:
        return f"capture: the session runs from CAPTURE_TEST_NOW={TEST_NOW} (time-machine, ticking)"


def pytest_collection_modifyitems(config, items):
    # Everything that uses a built site is `site` (`make test-fast` leaves it out).
    for item in items:
        if SITE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.site)
    if not TEST_NOW:
        return
    # The end-to-end tests compare what they see with servers and Chromium on the machine's clock.
    skip = pytest.mark.skip(reason="CAPTURE_TEST_NOW: tests/e2e runs servers and Chromium on the machine's clock")
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(skip)


def need_service(reason: str):
    """Skip locally, fail in CI, when a service a test needs is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _run_in_repo(monkeypatch):
    # Relative defaults (forms.yml, var/) resolve against the repository.
    monkeypatch.chdir(ROOT)
    for name in list(os.environ):
        if name.startswith("CAPTURE_") and not name.startswith(("CAPTURE_TEST_", "CAPTURE_REQUIRE")):
            monkeypatch.delenv(name)
    # A developer's own .env must not change what the tests (and the servers they start) see.
    monkeypatch.setenv("CAPTURE_DOTENV", "0")


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL URL for tests, checked once to be reachable."""
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not here"
        need_service(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__})")
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture
def pg_url(pg_server):
    """A URL whose connections live in a fresh schema, dropped afterwards."""
    schema = f"capture_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{pg_server}?options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A real SQLite file in the test's own folder."""
    return f"sqlite:///{tmp_path / 'capture.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once per session, as the app migrates one."""
    path = tmp_path_factory.mktemp("template") / "capture.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


def copy_sqlite(source: Path, target: str) -> None:
    """Copy a SQLite database with its backup API (consistent even with a WAL beside it)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture
def migrated_database_url(request, database_url) -> str:
    """`database_url` at the newest migration: on SQLite a copy of the session's template."""
    if database_url.startswith("sqlite"):
        copy_sqlite(request.getfixturevalue("sqlite_template"), make_url(database_url).database)
    return database_url


@pytest.fixture
def settings(migrated_database_url, tmp_path) -> dict:
    """Test settings: real database, mail to a temporary folder, no rate limit."""
    # The weekly digest is off: its messages would be in every test's outbox (tests/reports/test_digest.py turns it on).
    return {"database_url": migrated_database_url, "secret_key": TEST_SECRET, "ratelimit": "", "booking_ratelimit": "",
            "mail_url": f"file:{tmp_path / 'mail'}", "embedded_worker": "0", "digest": "0"}


@pytest.fixture
def make_app(settings):
    """Build an app with the test settings plus overrides; disposes engines after."""
    from capture import create_app
    apps = []

    def build(**overrides):
        app = create_app({**settings, **overrides})
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["capture"].engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


class Clock:
    """What `capture.clock.utcnow()` answers during a test: frozen, moved only by the test."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> datetime:
        """Stop the clock at `moment` (timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("set the clock to an aware datetime")
        self.moment = moment.astimezone(timezone.utc)
        return self.moment

    def advance(self, delta: timedelta | None = None, **units) -> datetime:
        """Move the clock on by `delta` or by timedelta's keywords (minutes=5)."""
        self.moment += delta if delta is not None else timedelta(**units)
        return self.moment


@pytest.fixture
def clock():
    """The service's clock for this test (app, CLI, worker threads), starting at WORKING_MOMENT."""
    frozen = Clock(WORKING_MOMENT)
    capture_clock.use(frozen)
    yield frozen
    capture_clock.use(None)


def wall_clock() -> datetime:
    """The machine's own time, also under CAPTURE_TEST_NOW: what a server in another process sees."""
    if time_machine.escape_hatch.is_travelling():
        return time_machine.escape_hatch.datetime.datetime.now(timezone.utc)
    return datetime.now(timezone.utc)


def working_day(first: date) -> date:
    """`first`, or the next Monday when it falls on a weekend (the form asks for weekdays)."""
    return first + timedelta(days=7 - first.weekday() if first.weekday() >= 5 else 0)


@pytest.fixture
def consultation(request) -> dict:
    """A complete, valid consultation request, for a weekday a week or so after today."""
    if "clock" in request.fixturenames:
        request.getfixturevalue("clock")  # "today" is the test's clock, set first
    today = capture_clock.today(BUSINESS_TZ)
    return {"name": "Ada Lovelace", "email": "ada@analytical.example.com", "meeting_kind": "phone",
            "phone": "+44 20 7946 0018",
            "company": "Analytical Engines Ltd", "website": "analytical.example.com",
            "service": "ecommerce", "budget": "5k-10k",
            "preferred_date": working_day(today + timedelta(days=7)).isoformat(),
            "preferred_time": "09:00-12:00", "message": "We sell brass gears online.",
            "consent": "on"}
