"""One owner per state change (ARCHITECTURE.md), kept by reading the source.

Only capture/booking/ writes the bookings table, so every booking that ends
tells the calendars and the webhooks; only capture/pipeline/ writes a lead's
row and its events (status, owner, notes, the spam mark); only capture/delivery/
changes a job once it is queued. The scan finds
SQLAlchemy writes (`update(bookings)`, `bookings.insert()`, `delete(leads)`…)
and raw SQL naming the table; the behaviour tests check what the owner does
for each caller.
"""
from __future__ import annotations

import ast
import base64
import re
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from capture.booking import appointments
from capture.core.clock import utcnow
from capture.db.models import events, outbox
from capture.db.store import get_lead
from capture.pipeline import tray
from capture.privacy import erasure
from tests.conftest import ROOT

CAPTURE = ROOT / "capture"
VERBS = ("insert", "update", "delete")
MAYA = "maya@fernleaf.example"

# Writes to a lead outside the pipeline that are someone else's by design.
LEAD_WRITERS = {
    # The health check's write that changes nothing (WHERE false).
    ("capture/db/store.py", "check_writes"),
    # Anonymising: the personal columns and anonymised_at only, never status, owner, notes or spam.
    ("capture/privacy/erasure.py", "_anonymise"),
}


def _name(node) -> str:
    """The last name of `x`, `a.x` or `a.b.x`; '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _is_write(call: ast.Call, table: str, verbs: tuple[str, ...]) -> bool:
    func = _name(call.func)
    if isinstance(call.func, ast.Attribute) and func in verbs and _name(call.func.value) == table:
        return True  # bookings.update(), models.bookings.insert()
    # update(bookings), sqlite_insert(bookings), _insert(conn, bookings)…
    return any(verb in func.lower() for verb in verbs) and any(_name(arg) == table for arg in call.args)


def _raw_sql(verbs: tuple[str, ...], table: str) -> re.Pattern:
    sql = {"update": "update", "insert": r"insert\s+into", "delete": r"delete\s+from"}
    return re.compile(rf"\b({'|'.join(sql[v] for v in verbs)})\s+\"?{table}\b", re.IGNORECASE)


def writers_in(source: str, table: str, path: str = "<test>", verbs: tuple[str, ...] = VERBS) -> set[tuple[str, str]]:
    """(path, function) of every write (by `verbs`) to `table` in this module's source."""
    found, raw = set(), _raw_sql(verbs, table)

    def visit(node, where: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            where = node.name
        if isinstance(node, ast.Call) and _is_write(node, table, verbs):
            found.add((path, where))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and raw.search(node.value):
            found.add((path, where))
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(ast.parse(source, path), "<module>")
    return found


def writers(table: str, verbs: tuple[str, ...] = VERBS) -> set[tuple[str, str]]:
    """Every (module, function) in capture/ that writes `table`; migrations (which own the schema) aside."""
    found = set()
    for path in sorted(CAPTURE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith("capture/db/migrations/"):
            found |= writers_in(path.read_text(encoding="utf-8"), table, rel, verbs)
    return found


@pytest.mark.parametrize("source", [
    "conn.execute(update(bookings).where(bookings.c.id == 1).values(status='cancelled'))",
    "conn.execute(bookings.update().values(status='cancelled'))",
    "conn.execute(models.bookings.insert(), row)",
    "conn.execute(sa.delete(bookings))",
    "conn.execute(text('UPDATE bookings SET status = :s'))",
    "conn.exec_driver_sql('delete from \"bookings\" where id = 1')",
])
def test_the_scan_sees_every_way_of_writing_a_table(source):
    assert writers_in(f"def f():\n    {source}\n", "bookings") == {("<test>", "f")}


@pytest.mark.parametrize("source", [
    "conn.execute(select(bookings).where(bookings.c.status == 'booked'))",
    "conn.execute(update(outbox).where(outbox.c.ref == bookings.c.id))",
    "text('SELECT * FROM bookings')",
])
def test_the_scan_ignores_reads_and_other_tables(source):
    assert writers_in(f"def f():\n    {source}\n", "bookings") == set()


def test_only_the_booking_package_writes_bookings():
    found = writers("bookings")
    assert ("capture/booking/appointments.py", "end") in found  # the scan sees the owner itself
    assert {where for where in found if not where[0].startswith("capture/booking/")} == set()


@pytest.mark.parametrize("table", ["leads", "events"])
def test_only_the_pipeline_writes_a_lead_and_its_events(table):
    found = writers(table)
    assert any(path.startswith("capture/pipeline/") for path, _ in found)
    outside = {where for where in found if not where[0].startswith("capture/pipeline/")}
    assert outside - LEAD_WRITERS == set()


def test_only_delivery_changes_a_queued_job():
    # Any capability queues jobs (an insert in its own transaction); holding one back, sending it
    # again, readdressing or forgetting it is delivery's (delivery/amend.py), as the worker's outcomes are.
    found = writers("outbox", verbs=("update", "delete"))
    assert ("capture/delivery/amend.py", "drop_waiting") in found
    assert {where for where in found if not where[0].startswith("capture/delivery/")} == set()
    assert writers_in("def f():\n    conn.execute(outbox.insert(), jobs)\n", "outbox", verbs=("update", "delete")) == set()


# --- what the owner does, whoever calls it ----------------------------------------------

@pytest.fixture
def hooked_app(make_app, tmp_path):
    """Maya the only host; a webhook endpoint that wants every booking event."""
    raw = yaml.safe_load((ROOT / "sales.yml").read_text())
    raw["consultation"]["hosts"] = [MAYA]
    raw["webhooks"] = [{"name": "crm", "url": "http://127.0.0.1:9/hook",
                        "events": ["booking.created", "booking.cancelled", "booking.moved"]}]
    path = tmp_path / "sales-owner.yml"
    path.write_text(yaml.safe_dump(raw))
    return make_app(sales=str(path), webhook_secret_crm="whsec_" + base64.b64encode(bytes(32)).decode())


def _book(app) -> tuple[str, dict]:
    client = app.test_client()
    start = client.get("/api/slots?form=consultation&days=7").json["slots"][0]["start"]
    lead_id = client.post("/api/forms/consultation", json={
        "name": "Visitor 1", "email": "v1@example.com", "service": "business", "budget": "5k-10k",
        "meeting_kind": "video", "consent": True, "slot": start, "message": "Our shop needs a new site.", "time_on_form": "60000"}).json["id"]
    return lead_id, appointments.current(app.extensions["capture"].engine, lead_id)


def _visitor_cancels(ext, lead_id, made):
    appointments.cancel(ext.engine, ext.sales, made["id"], appointments.VISITOR, ext.mail_domain, utcnow())


def _marked_as_spam(ext, lead_id, made):
    tray.hold(ext, lead_id, MAYA)


def _erased(ext, lead_id, made):
    erasure.erase(ext.engine, ext.schema, "v1@example.com", MAYA, utcnow(), sales=ext.sales,
                  domain=ext.mail_domain)


@pytest.mark.parametrize("ending", [_visitor_cancels, _marked_as_spam, _erased])
def test_every_end_of_a_booking_queues_the_hosts_cancel_and_the_webhook(hooked_app, clock, ending):
    ext = hooked_app.extensions["capture"]
    lead_id, made = _book(hooked_app)
    ending(ext, lead_id, made)
    ended = appointments.get(ext.engine, made["id"])
    assert (ended["status"], ended["sequence"]) == (appointments.CANCELLED, made["sequence"] + 1)
    with ext.engine.connect() as conn:
        queued = {(row.kind, row.recipient, row.ref) for row in conn.execute(
            select(outbox.c.kind, outbox.c.recipient, outbox.c.ref).where(outbox.c.lead_id == lead_id))}
    assert ("booking_update", MAYA, f"{made['id']}:{ended['sequence']}") in queued  # the host's CANCEL
    assert ("webhook", "crm", f"evt_{made['id']}.cancelled") in queued


def test_retention_deletes_old_spam_with_its_cancelled_booking_through_the_owners(hooked_app, clock):
    ext = hooked_app.extensions["capture"]
    lead_id, made = _book(hooked_app)
    tray.hold(ext, lead_id, MAYA)  # the meeting is cancelled (the host told) when the lead is marked
    clock.advance(ext.settings.retention.spam + timedelta(days=1))
    done = erasure.apply_retention(ext.engine, ext.schema, ext.settings.retention, utcnow())
    assert done["spam_deleted"] == 1
    assert appointments.get(ext.engine, made["id"]) is None and get_lead(ext.engine, lead_id) is None
    with ext.engine.connect() as conn:
        assert conn.execute(select(events.c.id).where(events.c.lead_id == lead_id)).first() is None
