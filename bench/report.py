"""The report on a big history: 1,000,000 leads and 3 years of daily page views.

    .venv/bin/python bench/report.py [--leads 1000000] [--database-url postgresql+psycopg://…]

Builds a database at the newest migration (a temporary SQLite file, or PostgreSQL in a private
schema that is dropped afterwards): leads spread evenly over 3 years, 5% of them spam, in every
status with won values and lost reasons, from 60 pages (12 of them blog posts), 6 sources,
20 campaigns and 8 referring hosts; and page_views with a row per day, page and source (about
half a million rows). The build writes in big batches (executemany on SQLite with
`synchronous=OFF` for the build only, COPY on PostgreSQL) and runs ANALYZE, as a live database's
autovacuum / `PRAGMA optimize` would.

Then it times `report.report` for every dimension and both touches over the default period
(the last 30 days), the last 365 days and the whole 3 years: warm (one run first), the median of 3. The
baseline, in the same run and the same way, is a plain COUNT(*) of the period's leads (the
least any report must do); the ratio is report ÷ baseline. Figures last. Target: under 1 s
for the default report.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import and_, create_engine, func, select, text  # noqa: E402

from capture.reports import report  # noqa: E402
from capture.db.models import leads, page_views  # noqa: E402
from capture.db.engine import make_engine, reading  # noqa: E402
from capture.db.migrate import migrate  # noqa: E402
from capture.db.report_keys import attribution_keys  # noqa: E402
from capture.schema.sales import load_sales  # noqa: E402

TZ = ZoneInfo("Europe/London")
CALENDAR = load_sales(ROOT / "sales.yml", TZ).calendar  # the leads still waiting are aged in it
DAYS = 3 * 365 + 1
SITE = "https://www.fernleaf.example"
POSTS = [f"/blog/post-{i}/" for i in range(12)]
PAGES = ["/", "/services/", "/contact/", "/consultation/", "/about/", "/blog/", *POSTS,
         *(f"/services/page-{i}/" for i in range(42))]
SOURCES = [("", "", ""), ("google", "cpc", None), ("newsletter", "email", None),
           ("facebook", "social", None), ("linkedin", "social", None), ("partner", "referral", None)]
CAMPAIGNS = [f"campaign-{i:02d}" for i in range(20)]
HOSTS = ["www.google.com", "www.bing.com", "duckduckgo.com", "www.facebook.com", "t.co",
         "www.linkedin.com", "news.ycombinator.com", "www.reddit.com"]
OWNERS = ["maya@fernleaf.example", "tom@fernleaf.example", "sam@fernleaf.example"]
SERVICES = ["starter", "business", "ecommerce", "other"]
REASONS = ["price", "timing", "went_elsewhere", "no_reply", "not_a_fit", "other"]
# status: (share, furthest stage); a lost lead's stage is drawn separately
STATUSES = [("new", 0.08, 0), ("contacted", 0.25, 1), ("consultation", 0.12, 2), ("proposal", 0.10, 3),
            ("won", 0.15, 4), ("lost", 0.30, None)]
BATCH = 20_000


def lead_rows(count: int, end: datetime, rng: random.Random):
    """`count` leads, oldest first, evenly over DAYS days before `end`, as column dicts."""
    span = DAYS * 86400
    weights = [share for _, share, _ in STATUSES]
    for i in range(count):
        received = end - timedelta(seconds=span * (count - i) / count)
        source, medium, _ = rng.choice(SOURCES)
        campaign = rng.choice(CAMPAIGNS) if source else ""
        landing = rng.choice(PAGES)
        attribution = {
            "landing_page": f"{SITE}{landing}" + (f"?utm_source={source}&utm_campaign={campaign}" if source else ""),
            "page_url": f"{SITE}{rng.choice(['/contact/', '/consultation/', landing])}",
            "first_referrer": f"https://{rng.choice(HOSTS)}/" if rng.random() < 0.6 else None,
            "referrer": f"{SITE}/services/" if rng.random() < 0.7 else None,
        }
        status, _, stage = rng.choices(STATUSES, weights)[0]
        spam = rng.random() < 0.05
        if spam:
            status, stage = "new", 0
        contacted = status != "new"
        minutes = int(rng.lognormvariate(4, 1.2)) if contacted else None
        row = {
            "id": f"{i:012x}{uuid.uuid4().hex[:12]}", "form_id": rng.choice(["consultation", "contact"]),
            "received_at": received, "status": status, "spam": spam, "verdict": "spam" if spam else "clean",
            "data": "{}", "service": rng.choice(SERVICES), "owner": None if spam else rng.choice(OWNERS),
            "deal_value": rng.randrange(150_000, 2_500_000, 100) if status == "won" else None,
            "lost_reason": rng.choice(REASONS) if status == "lost" else None,
            "first_contact_at": received + timedelta(minutes=minutes) if contacted else None,
            "first_response_minutes": minutes, "stage_reached": rng.randint(0, 3) if stage is None else stage,
            "first_utm_source": source or None, "first_utm_medium": medium or None,
            "first_utm_campaign": campaign or None,
            "last_utm_source": source or None if rng.random() < 0.3 else None,
            "last_utm_medium": None, "last_utm_campaign": campaign or None if rng.random() < 0.3 else None,
            **attribution, **attribution_keys(attribution),
        }
        yield row


def view_rows(end: date, rng: random.Random, days: int = DAYS):
    """A row per day, page and source (about 8 per page a day): views and visitors."""
    for offset in range(days):
        day = end - timedelta(days=offset)
        for path in PAGES:
            for source, medium, _ in SOURCES:
                campaign = rng.choice(CAMPAIGNS) if source else ""
                for host in (("",) if source else ("", *rng.sample(HOSTS, 2))):
                    visitors = rng.randint(1, 40)
                    yield {"day": day, "path": path, "referrer_host": host, "utm_source": source,
                           "utm_medium": medium, "utm_campaign": campaign,
                           "views": visitors + rng.randint(0, visitors), "visitors": visitors,
                           "visits": visitors}


def build(engine, count: int, now: datetime) -> None:
    """Fill leads and page_views in big batches, then ANALYZE."""
    rng = random.Random(7)
    columns = [c.name for c in leads.columns]
    views = [c.name for c in page_views.columns if c.name != "id"]
    leads_made = lead_rows(count, now, rng)
    views_made = ([row[k] for k in views] for row in view_rows(now.astimezone(TZ).date(), rng))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute("BEGIN")
            _executemany(raw, "leads", columns, (_sqlite(row, columns) for row in leads_made))
            _executemany(raw, "page_views", views, views_made)
            raw.execute("COMMIT")
            raw.execute("ANALYZE")
            raw.execute("PRAGMA synchronous=NORMAL")
        else:
            with raw.cursor() as cur:
                _copy(cur, "leads", columns, ([row.get(k) for k in columns] for row in leads_made))
                _copy(cur, "page_views", views, views_made)
            raw.commit()
            raw.autocommit = True
            raw.execute("VACUUM ANALYZE leads")
            raw.execute("VACUUM ANALYZE page_views")
            raw.autocommit = False


def _sqlite(row: dict, columns: list[str]) -> list:
    """What SQLAlchemy's SQLite dialect stores (store._converter writes the same)."""
    out = []
    for name in columns:
        value = row.get(name)
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        elif isinstance(value, bool):
            value = int(value)
        out.append(value)
    return out


def _executemany(raw, table: str, columns: list[str], rows) -> None:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            raw.executemany(sql, batch)
            batch.clear()
    raw.executemany(sql, batch)


def _copy(cur, table: str, columns: list[str], rows) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def timed(action, runs: int = 3) -> float:
    """Warm: one run first, then the median of `runs`, in milliseconds."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(engine, now: datetime) -> list[tuple[str, float, dict[tuple[str, str], float]]]:
    """(period name, baseline ms, {(dimension, touch): ms}) for the default period and 3 years."""
    results = []
    since, until = report.default_period(TZ, now)
    periods = [("last 30 days", (since, until)), ("last 365 days", (until - timedelta(days=365), until)),
               ("3 years", (until - timedelta(days=DAYS), until))]
    for name, (since, until) in periods:
        start, end = (datetime.combine(d, datetime.min.time(), tzinfo=TZ) for d in (since, until))
        count = select(func.count()).select_from(leads).where(
            and_(leads.c.spam.is_(False), leads.c.received_at >= start, leads.c.received_at < end))

        def baseline():
            with reading(engine) as conn:
                return conn.execute(count).scalar()
        base = timed(baseline)
        figures = {}
        for by in report.DIMENSIONS:
            for touch in report.TOUCHES:
                figures[by, touch] = timed(lambda: report.report(engine, TZ, by, touch, since, until,
                                                                      calendar=CALENDAR, now=now))
        results.append((name, base, figures))
        print(f"  {name}: {baseline()} leads; baseline {base:.1f} ms", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: a temporary SQLite file)")
    args = parser.parse_args()
    now = datetime.now(timezone.utc)
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url:
            schema = f"bench_report_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{args.database_url}?options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{tmp}/report.db"
        engine = make_engine(url)
        try:
            migrate(engine)
            started = time.perf_counter()
            build(engine, args.leads, now)
            with engine.connect() as conn:
                counted = conn.execute(select(func.count()).select_from(page_views)).scalar()
            print(f"built {args.leads:,} leads and {counted:,} page_views rows in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
            results = measure(engine, now)
            sample = report.report(engine, TZ, "campaign", "first", calendar=CALENDAR, now=now)
        finally:
            engine.dispose()
            if schema:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    print(f"\nreport on {engine.dialect.name}: {args.leads:,} leads, {counted:,} page_views rows; "
          f"warm, median of 3, ms (ratio to the baseline)")
    print(f"{'dimension':<15}{'touch':<7}" + "".join(f"{name:>24}" for name, _, _ in results))
    for by, touch in results[0][2]:
        print(f"{by:<15}{touch:<7}" + "".join(f"{figures[by, touch]:>14.1f} ({figures[by, touch] / base:>5.1f}x)"
                                              for _, base, figures in results))
    print(f"{'baseline: COUNT(*) of the period':<22}" + "".join(f"{base:>24.1f}" for _, base, _ in results))
    worst = [f"{name} {max(figures.values()):.0f} ms" for name, _, figures in results]
    print(f"slowest report: {', '.join(worst)} (target: the last 30 days < 1000 ms); "
          f"last 30 days by campaign: {len(sample.rows)} rows, {sample.totals['leads']:,} leads, "
          f"{json.dumps({k: sample.totals[k] for k in ('won', 'revenue_pence', 'median_first_contact_minutes')})}")


if __name__ == "__main__":
    main()
