"""Junk beacons: the desk's report with 50,000 made-up view rows, and what junk beacons still get in.

    .venv/bin/python bench/junk_beacons.py [--junk 50000] [--beacons 6000] [--skip-before]
                                           [--database-url postgresql+psycopg://…]

Part 1, the report. Builds a database at the newest migration (a temporary SQLite file, or a
private PostgreSQL schema dropped afterwards) with 60 days of realistic data: the views of 60
pages from 6 sources and 8 referring hosts (bench/report.py's site; 480 rows a day),
and 30,000 leads over 3 years (about 820 in the last 30 days). Then `GET /desk/report`, signed in
as marketing, in this process (the page as a browser gets it: the report, the weekly trend,
the charts, the HTML), grouped by source (the page's default), campaign, page and referring
host, warm, the median of 3:
- baseline: that realistic database;
- with junk: the same plus `--junk` rows in the last 30 days, each with its own made-up path,
  referrer host, source, medium and campaign (a script that varies everything), so every
  grouping has that many keys;
- before: the same with junk, the report unbounded (traffic.VIEW_ROWS lifted: one row per key,
  as before the bound), by campaign only and run once (it takes tens of seconds).
The ratio is each against the baseline.

Part 2, the beacon. `--beacons` junk beacons through POST /api/views (in process, the per-minute
limit lifted to see the new bounds alone) from 10 addresses, each with a new user agent and a
made-up path, referrer or campaign, and for comparison 50 real views of listed pages: how many
rows and visitors they added without the page list and allowance (as before) and with them.

Figures last.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select  # noqa: E402

from capture import create_app
from capture import context
from capture.reports import report, traffic
from capture.core import sitepaths
from capture.db.models import daily_salts, daily_visitors, daily_visits, leads, page_views, visits  # noqa: E402
from databases import private_database  # noqa: E402
from report import CALENDAR, PAGES, TZ, _copy, _executemany, _sqlite, lead_rows, timed  # noqa: E402
from report import view_rows as report_view_rows  # noqa: E402
from tests.desk.test_desk import PRIYA, sign_in  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
DAYS = 60
LEADS = 30_000
GROUPINGS = ("source", "campaign", "page", "referrer_host")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def make_app(url: str, folder: str, **settings):
    return create_app({"database_url": url, "secret_key": SECRET, "ratelimit": "", "views_ratelimit": "",
                       "mail_url": f"file:{folder}/mail", "embedded_worker": "0", "digest": "0", **settings})


def view_rows(today, rng: random.Random):
    """A row per day, page and source over DAYS days (bench/report.py's), as lists for COPY."""
    for row in report_view_rows(today, rng, days=DAYS):
        yield list(row.values())


def junk_rows(today, count: int, rng: random.Random):
    """`count` rows in the last 30 days, each with its own made-up path, host, source, medium and campaign."""
    for i in range(count):
        tag = f"{i:06d}{rng.randrange(16 ** 6):06x}"
        yield [today - timedelta(days=rng.randrange(30)), f"/junk/{tag}/", f"junk-{tag}.example",
               f"src-{tag}", f"med-{tag}", f"camp-{tag}", 1, 1, 1]


def insert(engine, table: str, columns: list[str], rows) -> None:
    """Many rows at once: executemany on SQLite, COPY on PostgreSQL; then ANALYZE."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            raw.execute("BEGIN")
            _executemany(raw, table, columns, rows)
            raw.execute("COMMIT")
            raw.execute("ANALYZE")
        else:
            with raw.cursor() as cur:
                _copy(cur, table, columns, rows)
            raw.commit()
            raw.execute(f"ANALYZE {table}")
            raw.commit()


def pages(client) -> dict[str, tuple[float, int]]:
    """{grouping: (ms, bytes of HTML)} for the desk's report page."""
    found = {}
    for by in GROUPINGS:
        def get():
            response = client.get(f"/desk/report?by={by}")
            assert response.status_code == 200, response.status_code
            return response
        found[by] = (timed(get), len(get().data))
    return found


def part_one(url: str, folder: str, junk: int, before: bool) -> dict:
    app = make_app(url, folder)
    engine = context.of(app).engine
    now = datetime.now(timezone.utc)
    today = now.astimezone(TZ).date()
    rng = random.Random(7)
    columns = [c.name for c in page_views.columns if c.name != "id"]
    insert(engine, "page_views", columns, view_rows(today, rng))
    lead_columns = [c.name for c in leads.columns]
    made = lead_rows(LEADS, now, rng)
    if engine.dialect.name == "sqlite":
        insert(engine, "leads", lead_columns, (_sqlite(row, lead_columns) for row in made))
    else:
        insert(engine, "leads", lead_columns, ([row.get(k) for k in lead_columns] for row in made))
    client = app.test_client()
    sign_in(app, client, PRIYA)
    with engine.connect() as conn:
        clean_rows = conn.execute(select(func.count()).select_from(page_views)).scalar()
    print(f"  {engine.dialect.name}: {clean_rows:,} view rows, {LEADS:,} leads; timing the baseline", file=sys.stderr)
    result = {"clean_rows": clean_rows, "baseline": pages(client)}
    junked = list(junk_rows(today, junk, rng))
    insert(engine, "page_views", columns, junked)
    # Each junk beacon was a visit of its own too (traffic/visits.py), which the report reads by campaign.
    visit_columns = [c.name for c in visits.columns if c.name != "id"]
    insert(engine, "visits", visit_columns, (row[:6] + [1] * (len(visit_columns) - 6) for row in junked))
    print(f"  with {junk:,} junk rows", file=sys.stderr)
    result["junk"] = pages(client)
    result["report_ms"] = timed(lambda: report.report(engine, TZ, "campaign", calendar=CALENDAR))
    result["rows_shown"] = len(report.report(engine, TZ, "campaign", calendar=CALENDAR).rows)
    if before:
        print("  before: the unbounded report by campaign (one run)", file=sys.stderr)
        kept, traffic.VIEW_ROWS = traffic.VIEW_ROWS, 10 ** 9
        try:
            start = time.perf_counter()
            response = client.get("/desk/report?by=campaign")
            result["before"] = ((time.perf_counter() - start) * 1000, len(response.data))
        finally:
            traffic.VIEW_ROWS = kept
    engine.dispose()
    return result


def part_two(url: str, folder: str, beacons: int) -> dict:
    """{setting: (rows, visitors)} added by junk beacons, and by 50 real views, without and with the bounds."""
    site = Path(folder) / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>x</title>")
    for page in PAGES[1:]:
        (site / page.strip("/")).mkdir(parents=True, exist_ok=True)
        (site / page.strip("/") / "index.html").write_text("<!doctype html><title>x</title>")
    listed = sitepaths.write(site)
    found = {}
    for name, settings in (("before: no list, no allowance", {"views_new_limit": ""}),
                           ("after: page list + 300 new a day", {"site_paths": str(listed)})):
        app = make_app(url, folder, **settings)
        engine = context.of(app).engine
        with engine.begin() as conn:  # each setting from scratch: no row, no salt, no visitor key
            for table in (page_views, visits, daily_visits, daily_visitors, daily_salts):
                conn.execute(table.delete())
        client = app.test_client()
        rng = random.Random(11)
        started = time.perf_counter()
        for i in range(beacons):
            kind = i % 3
            body = {"path": f"/junk/{i}/" if kind == 0 else rng.choice(PAGES),
                    "referrer": f"https://junk-{i}.example/" if kind == 1 else "",
                    "utm_campaign": f"camp-{i}" if kind == 2 else None}
            client.post("/api/views", data=json.dumps(body), content_type="text/plain",
                        headers={"User-Agent": f"{FIREFOX} junk/{i}"},
                        environ_base={"REMOTE_ADDR": f"10.66.0.{i % 10}"})
        spent = (time.perf_counter() - started) * 1000 / beacons
        with engine.connect() as conn:
            junk = conn.execute(select(func.count(), func.coalesce(func.sum(page_views.c.visitors), 0))).one()
        for i in range(50):  # real visitors, each from an address of their own, on listed pages
            client.post("/api/views", data=json.dumps({"path": PAGES[i % 5]}), content_type="text/plain",
                        headers={"User-Agent": FIREFOX}, environ_base={"REMOTE_ADDR": f"10.77.0.{i}"})
        with engine.connect() as conn:
            real = conn.execute(select(func.coalesce(func.sum(page_views.c.visitors), 0))).scalar() - junk[1]
        found[name] = (junk[0], junk[1], real, spent)
        engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--junk", type=int, default=50_000)
    parser.add_argument("--beacons", type=int, default=6000)
    parser.add_argument("--skip-before", action="store_true", help="do not time the unbounded report")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: a temporary SQLite file)")
    args = parser.parse_args()
    os.environ["CAPTURE_DOTENV"] = "0"  # a developer's .env must not change what is measured
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = private_database(args.database_url, tmp, "junk")
        try:
            one = part_one(url, tmp, args.junk, not args.skip_before)
        finally:
            drop()
        url, drop = private_database(args.database_url, tmp, "junk")
        try:
            two = part_two(url, tmp, args.beacons)
        finally:
            drop()
    dialect = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n/desk/report on {dialect}: {one['clean_rows']:,} realistic view rows and {LEADS:,} leads, "
          f"then {args.junk:,} junk rows; in process, warm, median of 3")
    print(f"{'grouped by':<15}{'baseline ms':>12}{'KiB':>8}{'with junk ms':>14}{'KiB':>8}{'ratio':>8}")
    for by in GROUPINGS:
        (base, base_size), (junk, junk_size) = one["baseline"][by], one["junk"][by]
        print(f"{by:<15}{base:>12.1f}{base_size / 1024:>8.0f}{junk:>14.1f}{junk_size / 1024:>8.0f}{junk / base:>7.1f}x")
    print(f"reports.report by campaign with junk: {one['report_ms']:.1f} ms, {one['rows_shown']} rows")
    if "before" in one:
        ms, size = one["before"]
        base = one["baseline"]["campaign"][0]
        print(f"before (unbounded, by campaign, one run): {ms:,.0f} ms, {size / 1024 / 1024:.1f} MiB "
              f"({ms / base:.0f}x the baseline)")
    print(f"\n{args.beacons:,} junk beacons from 10 addresses (new user agent each, made-up path, referrer "
          f"or campaign), then 50 real views:")
    for name, (rows, visitors, real, spent) in two.items():
        print(f"  {name:<34} junk added {rows:>5,} rows, {visitors:>5,} visitors; real visitors counted "
              f"{real}/50; {spent:.2f} ms a beacon")


if __name__ == "__main__":
    main()
