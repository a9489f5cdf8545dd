"""Shared fixtures: real databases (a SQLite file, a PostgreSQL schema of our own), apps, clients.

A test that needs a missing service skips with the reason; with
CAPTURE_REQUIRE_SERVICES=1 (CI) it fails instead.
"""
from __future__ import annotations

import os
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("CAPTURE_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("CAPTURE_TEST_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CAPTURE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_SECRET = "test-secret-key-0123456789abcdef"


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


@pytest.fixture
def settings(database_url, tmp_path) -> dict:
    """Test settings: real database, mail to a temporary folder, no rate limit."""
    # The weekly digest is off: its messages would be in every test's outbox (tests/test_digest.py turns it on).
    return {"database_url": database_url, "secret_key": TEST_SECRET, "ratelimit": "", "booking_ratelimit": "",
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


@pytest.fixture
def consultation() -> dict:
    """A complete, valid consultation request."""
    return {"name": "Ada Lovelace", "email": "ada@analytical.example.com", "phone": "+44 20 7946 0018",
            "company": "Analytical Engines Ltd", "website": "analytical.example.com",
            "service": "ecommerce", "budget": "5k-10k",
            "preferred_date": (date.today() + timedelta(days=7)).isoformat(),
            "preferred_time": "09:00-12:00", "message": "We sell brass gears online.",
            "consent": "on"}
