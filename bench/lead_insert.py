"""The lead's transaction: store.LeadWriter (SQL compiled once, values converted by us) against
SQLAlchemy Core's `conn.execute(table.insert(), rows)` for the same lead and jobs.

    .venv/bin/python bench/lead_insert.py [--leads 2000] [--postgres URL]

In-process, one thread, a fresh SQLite file (and, with --postgres, a private schema that is
dropped afterwards). Both write the same rows in one transaction per lead, alternating in
rounds so machine noise hits both alike; the figures are CPU milliseconds per lead (process
time), best round of five, and the ratio core/writer (above 1: Core costs more).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from capture.core.clock import utcnow  # noqa: E402
from capture.schema.forms import load_schema  # noqa: E402
from capture.db.models import leads, outbox  # noqa: E402
from capture.delivery.outbox import jobs_for_lead  # noqa: E402
from capture.intake.spam import CLEAN, Verdict  # noqa: E402
from capture.db.engine import make_engine, writing  # noqa: E402
from capture.db.migrate import migrate  # noqa: E402
from capture.db.store import LeadWriter, lead_row  # noqa: E402

FORM = load_schema(ROOT / "forms.yml").forms["consultation"]
VALUES = {"name": "Ada Lovelace", "email": "ada@analytical.example.com", "meeting_kind": "phone",
          "phone": "+44 20 7946 0018",
          "service": "ecommerce", "budget": "5k-10k", "preferred_date": "2026-12-04",
          "preferred_time": "09:00-12:00", "message": "A new site for our gear shop.", "consent": True}
CLEAN_VERDICT = Verdict(CLEAN, 0)


def a_lead() -> tuple[dict, list[dict]]:
    now = utcnow()
    row = lead_row("consultation", VALUES, {"first_utm_source": "newsletter"}, verdict=CLEAN_VERDICT,
                   consent_version="2026-11-01", received_at=now)
    return row, jobs_for_lead(FORM, row, "fernleaf.example", now)


def with_writer(engine, count: int) -> float:
    writer, start = LeadWriter(engine), time.process_time()
    for _ in range(count):
        row, jobs = a_lead()
        writer.save(row, lambda _row: jobs)
    return (time.process_time() - start) / count * 1000


def with_core(engine, count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        row, jobs = a_lead()
        with writing(engine) as conn:
            conn.execute(leads.insert(), row)
            conn.execute(outbox.insert(), jobs)
    return (time.process_time() - start) / count * 1000


def measure(name: str, engine, count: int) -> None:
    migrate(engine)
    with_writer(engine, 50), with_core(engine, 50)  # warm-up: statement caches, pages
    writer, core = [], []
    for _ in range(5):
        writer.append(with_writer(engine, count // 5))
        core.append(with_core(engine, count // 5))
    print(f"{name:<11} LeadWriter {min(writer):.3f} ms/lead   Core insert {min(core):.3f} ms/lead   "
          f"ratio core/writer {min(core) / min(writer):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--postgres", default="", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"\nlead_insert: {args.leads} leads each way, CPU time per lead, best of 5 rounds")
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        measure("SQLite", engine, args.leads)
        engine.dispose()
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            engine = make_engine(f"{args.postgres}?options=-csearch_path%3D{schema}")
            measure("PostgreSQL", engine, args.leads)
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
