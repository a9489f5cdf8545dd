"""Storage that never loses a lead: crashes, concurrent writers, concurrent migrations."""
import json
import multiprocessing
import os
import subprocess
import sys
import uuid
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from capture.core.clock import utcnow
from capture.db.models import leads, outbox
from capture.intake.spam import CLEAN, Verdict
from capture.db.engine import make_engine
from capture.db.migrate import is_current, migrate
from capture.db.store import LeadWriter, get_lead, lead_row
from tests.conftest import ROOT, TEST_SECRET
from tests.gunicorn_server import Gunicorn


def post_json(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def server_env(database_url: str, tmp_path) -> dict:
    return {"CAPTURE_DATABASE_URL": database_url, "CAPTURE_SECRET_KEY": TEST_SECRET,
            "CAPTURE_RATELIMIT": "", "CAPTURE_BOOKING_RATELIMIT": "", "CAPTURE_MAIL_URL": f"file:{tmp_path / 'mail'}",
            "CAPTURE_EMBEDDED_WORKER": "0"}


def test_an_acknowledged_lead_survives_a_crash(database_url, tmp_path, consultation):
    server = Gunicorn(server_env(database_url, tmp_path))
    try:
        status, body = post_json(f"{server.url}/api/forms/consultation", consultation)
    finally:
        server.kill()
    assert status == 201
    engine = make_engine(database_url)
    lead = get_lead(engine, body["id"])
    with engine.connect() as conn:
        jobs = conn.execute(select(func.count()).where(outbox.c.lead_id == body["id"])).scalar()
    engine.dispose()
    assert lead["email"] == consultation["email"]
    assert jobs == 6  # two sales inboxes, the owner, the confirmation, the reminder, the escalation


@pytest.mark.slow
def test_two_workers_writing_sqlite_at_once_never_see_a_locked_database(sqlite_url, tmp_path, consultation):
    log = open(tmp_path / "gunicorn.log", "wb")
    server = Gunicorn(server_env(sqlite_url, tmp_path), workers=2, log=log)
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda _: post_json(f"{server.url}/api/forms/consultation", consultation),
                                    range(300)))
    finally:
        server.stop()
        log.close()
    assert [status for status, _ in results] == [201] * 300
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(leads)).scalar() == 300
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 300 * 6
    engine.dispose()
    assert b"database is locked" not in (tmp_path / "gunicorn.log").read_bytes()


MIGRATE = ("from capture.db.engine import make_engine; from capture.db.migrate import migrate; import sys; "
           "migrate(make_engine(sys.argv[1]))")


@pytest.mark.slow
def test_processes_starting_together_migrate_once(database_url):
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, database_url], cwd=ROOT,
                              stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1].decode().strip().splitlines()[-1:] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    engine = make_engine(database_url)
    assert is_current(engine)
    migrate(engine)  # a second run is a no-op
    engine.dispose()


def test_a_connection_killed_by_a_database_restart_costs_no_lead(pg_url, tmp_path, consultation):
    from capture import create_app
    tag = f"capture-restart-{uuid.uuid4().hex[:8]}"
    app = create_app({"database_url": f"{pg_url}&application_name={tag}", "secret_key": TEST_SECRET,
                      "ratelimit": "", "mail_url": f"file:{tmp_path}"})
    client = app.test_client()
    assert client.post("/api/forms/consultation", json=consultation).status_code == 201
    admin = make_engine(pg_url)
    with admin.begin() as conn:  # what a PostgreSQL restart does to pooled connections
        conn.exec_driver_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             f"WHERE application_name = '{tag}'")
    admin.dispose()
    response = client.post("/api/forms/consultation", json=consultation)
    assert response.status_code == 201
    assert get_lead(app.extensions["capture"].engine, response.json["id"]) is not None
    app.extensions["capture"].engine.dispose()


def test_core_connections_are_checked_before_use_and_the_leads_own_write_is_not(pg_url, monkeypatch):
    """A ping per Core connection (engine._ping) keeps a restart from failing a desk page; the lead's
    write (LeadWriter, two round trips) is left without one: it retries a dead connection itself."""
    engine = make_engine(pg_url)
    migrate(engine)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi_conn: pings.append(1) or real_ping(dbapi_conn))
    with engine.connect() as conn:
        conn.execute(select(func.count()).select_from(leads))
    assert len(pings) == 1
    row = lead_row("contact", {"name": "Ada", "email": "ada@example.com"}, {}, verdict=Verdict(CLEAN, 0),
                   consent_version=None, received_at=utcnow())
    LeadWriter(engine).save(row, lambda _row: [])
    assert len(pings) == 1 and get_lead(engine, row["id"]) is not None
    engine.dispose()


def _open_and_write(url: str, barrier) -> None:
    engine = make_engine(url)
    barrier.wait()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS opened (x)")
    except Exception as exc:  # the exit code carries the verdict back
        print(exc, file=sys.stderr)
        os._exit(1)
    os._exit(0)


@pytest.mark.slow
def test_processes_opening_a_new_sqlite_database_at_once_all_succeed(tmp_path):
    # Gunicorn workers and CLI commands meet a fresh database together; turning
    # it to WAL at the same moment used to fail about one round in three.
    ctx = multiprocessing.get_context("fork")
    for round_ in range(15):
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open_and_write, args=(f"sqlite:///{tmp_path}/new{round_}.db", barrier))
                 for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 6, f"round {round_}"


READ_ONLY_SPELL = """
import json, os, sys
from capture import create_app
folder, lead = sys.argv[1], json.loads(sys.argv[2])
db = os.path.join(folder, "capture.db")
app = create_app({"database_url": f"sqlite:///{db}", "secret_key": sys.argv[3], "ratelimit": "",
                  "mail_url": f"file:{folder}/mail", "embedded_worker": "0"})
client, engine = app.test_client(), app.extensions["capture"].engine
def codes():
    return [client.post("/api/forms/consultation", json=lead).status_code,
            client.get("/api/health").status_code]
seen = codes()
# Another request holds the connection opened before the spell (so the WAL files stay
# writable), and the pool must open new ones during it: SQLite opens those read-only.
held = engine.raw_connection()  # no transaction: it holds no lock
held.cursor().execute("SELECT 1")
os.chmod(db, 0o444)
seen += codes()
os.chmod(db, 0o644)
seen += codes()
print(json.dumps(seen))
"""


def test_sqlite_recovers_after_a_read_only_spell_and_health_tells(tmp_path, consultation):
    """A connection opened while the file was read-only stays so: it must not go back to the pool."""
    folder = tmp_path / "db"
    folder.mkdir()
    command = [sys.executable, "-c", READ_ONLY_SPELL, str(folder), json.dumps(consultation), TEST_SECRET]
    if os.geteuid() == 0:  # root writes a read-only file anyway, unless it gives up that power
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    stored, during, after = (json.loads(result.stdout)[i:i + 2] for i in (0, 2, 4))
    assert stored == [201, 200]
    assert during == [503, 503]  # refused, and health says writes fail
    assert after == [201, 200]  # the next request gets a fresh connection


def test_discarded_sqlite_connections_leave_no_open_files(sqlite_url):
    """Each pooled SQLite connection has a lock file descriptor: it must close with the connection."""
    engine = make_engine(sqlite_url)
    migrate(engine)
    engine.dispose()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(300):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            conn.invalidate()  # the pool closes it, as after a failed write
    with ThreadPoolExecutor(8) as pool:  # overflow connections, discarded when returned
        list(pool.map(lambda _: engine.connect().close(), range(100)))
    engine.dispose()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_the_hand_compiled_insert_refuses_a_column_type_it_cannot_convert(database_url):
    """LeadWriter converts values itself: a new column type must fail at start, not reach the driver."""
    from sqlalchemy import Column, MetaData, Numeric, String, Table
    from capture.db.store import LeadWriter, _compiled
    engine = make_engine(database_url)
    LeadWriter(engine)  # every column of leads and outbox has a conversion
    table = Table("t", MetaData(), Column("id", String(10), primary_key=True), Column("price", Numeric))
    with pytest.raises(TypeError, match="Numeric column"):
        _compiled(table, engine, ("id", "price"))
    engine.dispose()


def test_the_migrations_build_exactly_the_tables_models_describe(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from capture.db.models import metadata
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
