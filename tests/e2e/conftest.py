"""Fixtures for the browser journeys: the production topology, on loopback.

Session-scoped, started once and stopped at the end:
- an aiosmtpd server standing in for the provider's SMTP relay;
- one database: a private PostgreSQL schema in CI (CAPTURE_REQUIRE_SERVICES=1), a SQLite file locally;
- `site_stack`: one server, as deploy/nginx/fernleaf.conf.in: nginx serves the
  built site and passes /api/ to gunicorn; the standalone mail worker delivers;
- `split_stack`: the site on a "static host" (deploy/nginx/fernleaf-static.conf.in,
  twice: an allowed origin and one that is not) and the API on its own origin
  (deploy/nginx/fernleaf-api.conf.in), the site built with CAPTURE_API_URL;
- Debian's chromium driven by Playwright.
Each test gets fresh browser contexts; a failing test leaves a screenshot of
every page it opened in tests/artifacts/.
"""
from __future__ import annotations

import importlib.util
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from e2e_stack import (CHROMIUM, NGINX, ROOT, Inbox, Nginx, build_site, deploy_env, free_port,
                       start_web, start_worker)

# tests/conftest.py, by path: both files are named conftest, so `import conftest` is ambiguous.
_spec = importlib.util.spec_from_file_location("capture_tests_conftest", ROOT / "tests" / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
PG_URL, REQUIRE_SERVICES, TEST_SECRET = _shared.PG_URL, _shared.REQUIRE_SERVICES, _shared.TEST_SECRET
need_service = _shared.need_service

ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# Every journey comes from 127.0.0.1, so the per-IP limit of deploy/env.example
# would meet the whole suite as one visitor; this keeps it on but roomy.
TEST_RATELIMIT = "120 per minute"


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: browser journeys on the nginx + gunicorn topology")


def pytest_collection_modifyitems(items):
    """Mark everything under tests/e2e (`pytest -m "not e2e"` leaves it out) and run it last.

    Last, so the session-scoped stacks (nginx, gunicorn, the worker) start after
    the quick tests and stop at once when the journeys are done, instead of
    running beside the rest of the suite.
    """
    here = Path(__file__).parent
    ours = [item for item in items if here in item.path.parents]
    for item in ours:
        item.add_marker(pytest.mark.e2e)
    chosen = set(map(id, ours))
    items[:] = [item for item in items if id(item) not in chosen] + ours


# --- tools ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def nginx_installed():
    """Skip (locally) or fail (CI) when Debian's nginx is not installed."""
    if not os.access(NGINX, os.X_OK):
        need_service("nginx is not installed (apt-get install -y nginx)")
    return NGINX


@pytest.fixture(scope="session")
def e2e_tools(nginx_installed):
    """Skip (locally) or fail (CI) when chromium or nginx is not installed."""
    if not os.access(CHROMIUM, os.X_OK):
        need_service("chromium is not installed (apt-get install -y chromium)")


# --- services ------------------------------------------------------------------

@pytest.fixture(scope="session")
def inbox():
    """An aiosmtpd server on a free loopback port; `.port`, and the messages it got."""
    from aiosmtpd.controller import Controller
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


def _pg_schema_url() -> tuple[str, callable]:
    """A URL into a fresh PostgreSQL schema, and the function that drops it."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    schema = f"capture_e2e_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any driver error means "not here"
        admin.dispose()
        need_service(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__})")

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


@pytest.fixture(scope="session")
def make_database(tmp_path_factory):
    """Databases for the stacks: PostgreSQL schemas in CI, SQLite files locally; removed after."""
    drops = []

    def make(name: str) -> str:
        if REQUIRE_SERVICES or os.environ.get("CI"):
            url, drop = _pg_schema_url()
            drops.append(drop)
            return url
        return f"sqlite:///{tmp_path_factory.mktemp('db') / (name + '.db')}"

    yield make
    for drop in drops:
        drop()


@dataclass
class Stack:
    """A running topology: where the browser goes, and the database behind it."""
    site_url: str                   # the origin serving the site
    api_url: str                    # the origin serving /api/
    database_url: str
    other_site_url: str = ""        # split only: the same site from an origin that is not allowed
    services: list = field(default_factory=list)
    _engine: object = None

    @property
    def engine(self):
        if self._engine is None:
            from capture.db.engine import make_engine
            self._engine = make_engine(self.database_url)
        return self._engine

    def leads(self, **where) -> list[dict]:
        """Stored leads matching column=value filters, oldest first."""
        from sqlalchemy import select
        from capture.db.models import leads
        query = select(leads).order_by(leads.c.received_at)
        for column, value in where.items():
            query = query.where(leads.c[column] == value)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def outbox(self, lead_id: str) -> list[dict]:
        """The outbox jobs written for a lead."""
        from sqlalchemy import select
        from capture.db.models import outbox
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.lead_id == lead_id))
                    .mappings()]

    def stop(self):
        for service in reversed(self.services):
            service.stop()
        if self._engine is not None:
            self._engine.dispose()


def _app_env(database_url: str, mail_port: int, **extra) -> dict:
    """deploy/env.example with only the test's own values changed."""
    return deploy_env(CAPTURE_DATABASE_URL=database_url, CAPTURE_SECRET_KEY=TEST_SECRET,
                      CAPTURE_MAIL_URL=f"smtp://127.0.0.1:{mail_port}",
                      CAPTURE_RATELIMIT=TEST_RATELIMIT, CAPTURE_BOOKING_RATELIMIT=TEST_RATELIMIT,
                      WEB_CONCURRENCY="2", **extra)


@pytest.fixture(scope="session")
def site_stack(e2e_tools, inbox, make_database, tmp_path_factory):
    """The one-server topology: nginx (site + /api/) -> gunicorn, and the mail worker."""
    work = tmp_path_factory.mktemp("one-server")
    port, api_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{port}"
    site = build_site(work / "site", site_url=origin + "/")
    stack = Stack(site_url=origin, api_url=origin, database_url=make_database("one_server"))
    # The service reads the built site too, so the pages booking emails open wear its header and footer.
    env = _app_env(stack.database_url, inbox.port, CAPTURE_PUBLIC_URL=origin, CAPTURE_SITE_DIR=str(site))
    try:
        stack.services.append(start_web(env, api_port, work))
        stack.services.append(start_worker(env, work))
        stack.services.append(Nginx(work / "nginx", [(
            "fernleaf.conf.in", {"LISTEN": f"127.0.0.1:{port}", "SERVER_NAME": "127.0.0.1",
                                 "SITE_ROOT": str(site), "API_UPSTREAM": f"127.0.0.1:{api_port}"})]))
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def split_stack(e2e_tools, make_database, tmp_path_factory):
    """The split topology: a static host for the site, the API on its own origin (CORS)."""
    work = tmp_path_factory.mktemp("split")
    site_port, other_port, api_port, app_port = (free_port() for _ in range(4))
    site_origin, api_origin = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{api_port}"
    site = build_site(work / "site", site_url=site_origin + "/", api_url=api_origin)
    stack = Stack(site_url=site_origin, api_url=api_origin, database_url=make_database("split"),
                  other_site_url=f"http://127.0.0.1:{other_port}")
    # No worker here: journey 4 is about the browser crossing origins, not mail.
    env = _app_env(stack.database_url, 9, CAPTURE_ALLOWED_ORIGINS=site_origin,
                   CAPTURE_SITE_URL=site_origin)
    static = {"SERVER_NAME": "127.0.0.1", "SITE_ROOT": str(site), "API_ORIGIN": api_origin}
    try:
        stack.services.append(start_web(env, app_port, work))
        stack.services.append(Nginx(work / "nginx", [
            ("fernleaf-static.conf.in", {**static, "LISTEN": f"127.0.0.1:{site_port}"}),
            ("fernleaf-static.conf.in", {**static, "LISTEN": f"127.0.0.1:{other_port}"}),
            ("fernleaf-api.conf.in", {"LISTEN": f"127.0.0.1:{api_port}", "SERVER_NAME": "127.0.0.1",
                                      "API_UPSTREAM": f"127.0.0.1:{app_port}"})]))
        yield stack
    finally:
        stack.stop()


# --- the browser -----------------------------------------------------------------

@pytest.fixture(scope="session")
def browser(e2e_tools):
    """Debian's chromium, headless, through Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the test item, for the screenshot on failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def open_page(browser, request):
    """open_page(url, javascript=True) -> a Playwright page in a fresh context.

    When the test fails, every page it opened is saved as
    tests/artifacts/<test name>-<n>.png.
    """
    contexts, pages = [], []

    def open_(url: str | None = None, javascript: bool = True):
        context = browser.new_context(java_script_enabled=javascript, locale="en-GB",
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        if url:
            page.goto(url)
        return page

    yield open_
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for index, page in enumerate(pages, 1):
            try:
                page.screenshot(path=str(ARTIFACTS / f"{stem}-{index}.png"), full_page=True)
            except Exception:  # a closed page or crashed browser: nothing to save
                pass
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's browser bundle from tests/e2e/node_modules (npm ci, pinned by package-lock.json)."""
    if not AXE.is_file():
        need_service("axe-core is not installed: run `npm ci` in tests/e2e (make test does)")
    return AXE.read_text()
