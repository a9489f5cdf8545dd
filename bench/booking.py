"""Booking: free-slot look-ups and concurrent bookings, against baselines from the same run.

Starts gunicorn (--workers sync workers, default 2) with the real app on a
temporary SQLite file or, with --database-url, on PostgreSQL in a private
schema dropped afterwards. No mail is sent (CAPTURE_EMBEDDED_WORKER=0, mail to
a `file:` folder) and the rate limits are off (CAPTURE_RATELIMIT=, CAPTURE_BOOKING_RATELIMIT=).

1. GET /api/slots?form=consultation&days=7 and &days=21, interleaved with the
   baseline GET /api/health on the same server and client (and, as the floor,
   /api/slots?form=contact, refused with a 400 before any work): --requests of
   each one after another, then the same spread over 8 client threads. Once
   on an empty calendar and once on a nearly full one (what the first booking
   round leaves, topped up one booking at a time if it ended early: at most a
   tenth of the empty calendar's slots still free). /api/health from loopback
   takes a write transaction and counts the outbox, so the outbox (nobody
   sends it here) is emptied before each of the two runs.
2. Bookings: --threads client threads, each a stream of visitors. A visitor
   fetches the 21 days' free slots and posts the consultation form with one:
   a quarter of the threads always take the first (popular) slot, to collide
   on purpose, the others a random one. On 409 they take one of the slots the
   answer offers (the first, or a random one), three tries in all. A round
   ends when a visitor sees the calendar nearly full; the bench then checks
   the database, deletes the round's bookings (the leads stay) and starts the
   next, until --seconds of booking load (or --bookings) are done.
3. The baseline for throughput, after each round and as long as it: the same
   threads post plain consultation leads (no slot) back to back. Alternating
   lets whatever else runs on the machine weigh on both alike; the workers'
   CPU time per request (from /proc) is printed for both, as it is steadier
   than rates on a shared machine.

After every round, the database must show: no host with two booked meetings
closer than the buffer (sales.yml, 15 min), every booked row's lead stored,
and exactly one booked row per 201 answer (the same lead ids); a refused
booking (409) must leave no lead behind. On PostgreSQL, a sampler counts how
often one of the app's connections holds, or waits for, the bookings' advisory
lock.

    .venv/bin/python bench/booking.py [--threads 16] [--seconds 15] [--workers 2]
    .venv/bin/python bench/booking.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints its figures last. Exits 1 if a check fails, or any answer is a 5xx or
a dropped connection.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, delete, func, select, text  # noqa: E402

from capture.core.settings import DEFAULTS  # noqa: E402
from capture.db.models import bookings, leads, outbox  # noqa: E402
from capture.schema.sales import load_sales  # noqa: E402
from databases import private_database  # noqa: E402
from tests.gunicorn_server import Gunicorn  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
BOOKING_DOMAIN = "@booking.example"  # visitors who pick a slot
PLAIN_DOMAIN = "@plain.example"  # the baseline's visitors, no slot
HEALTH = "/api/health"
FLOOR = "/api/slots?form=contact"  # refused before any work: a 400 through the same view
SLOTS_7 = "/api/slots?form=consultation&days=7"
SLOTS_21 = "/api/slots?form=consultation&days=21"
LATENCY_THREADS = 8
CHUNK = 25  # one thread's requests of one kind in a row, between readings of the workers' CPU time
NEARLY_FULL = 0.10  # a round ends when at most this share of the empty calendar's slots is free
TRIES = 3
LOCK_KEY = 872412  # capture/booking/appointments.py's advisory lock
APP_NAME = f"bench_booking_{uuid.uuid4().hex[:8]}"  # the app's connections, for the lock sampler


# --- visitors -------------------------------------------------------------------------------

# The spam filter counts one text sent from many addresses (numbers do not count), so every
# visitor's message is its own words: visitor n picks one of each list by n's digits.
OPENINGS = ["We run a small physiotherapy clinic.", "Our bakery has grown into a second shop.",
            "I teach piano from home and want more pupils.", "We are a family firm of joiners.",
            "Our tapas bar opens a terrace next spring.", "I restore vintage furniture.",
            "We groom dogs in a converted barn.", "Our accountancy practice is moving online.",
            "We design gardens for country houses.", "I run yoga classes in the village hall."]
WISHES = ["Customers should see our prices", "People ought to ask for an appointment online",
          "We want to show our past work with good photos", "Ordering for collection would help",
          "Reviews from happy clients should be easy to find", "The opening hours must be obvious",
          "Our team page needs proper portraits", "A booking calendar would save phone calls",
          "Search engines should find our services", "We need something easy to update ourselves"]
TRADES = ["candles", "bicycles", "cakes", "hedges", "kennels", "antiques", "lessons", "boilers",
          "tax returns", "ceramics", "saddles", "kitchens", "violins", "roofing", "flowers", "cheese",
          "tattoos", "frames", "tyres", "curtains"]
TOWNS = ["Leeds", "Bristol", "Norwich", "Exeter", "York", "Derby", "Bath", "Hull", "Truro", "Ely",
         "Ripon", "Wells", "Oban", "Bangor", "Durham", "Lincoln", "Carlisle", "Kendal", "Whitby", "Ludlow"]
SERVICES = ["starter", "business", "ecommerce", "unsure"]


def message(n: int) -> str:
    """Visitor n's own words (distinct for n < 40,000 even with the numbers taken out)."""
    return (f"{OPENINGS[n % 10]} {WISHES[n // 10 % 10]}, and we sell {TRADES[n // 100 % 20]} "
            f"around {TOWNS[n // 2000 % 20]}. Could we talk it through?")


def visitor(n: int, domain: str, slot: str | None = None) -> dict:
    """The consultation form as the site's script posts it: with a slot, or with a preference."""
    values = {"name": f"Visitor {n}", "email": f"v{n}{domain}", "service": SERVICES[n % 4],
              "budget": "5k-10k", "meeting_kind": "video", "consent": True, "message": message(n),
              "time_on_form": "60000",
              "page_url": "https://www.fernleaf.example/consultation/"}
    if slot:
        return {**values, "slot": slot}
    return {**values, "preferred_date": soon(), "preferred_time": "09:00-12:00"}


def soon() -> str:
    """A weekday a week or so ahead, valid for the preferred date."""
    day = date.today() + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.isoformat()


# --- the client -----------------------------------------------------------------------------

def call(port: int, method: str, path: str, body: dict | None = None) -> tuple[object, dict | None, float]:
    """(status or "error", JSON answer or None, seconds); a new connection, as a browser's would be."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        return "error", None, time.perf_counter() - started
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    try:
        return status, json.loads(raw), seconds
    except ValueError:
        return status, None, seconds


class Tally:
    """Latencies by name and answers by (name, status), shared by client threads."""

    def __init__(self):
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.lock = threading.Lock()

    def add(self, name: str, status, seconds: float) -> None:
        with self.lock:
            self.seconds[name].append(seconds)
            self.statuses[name, status] += 1

    def merge(self, other: "Tally") -> None:
        for name, values in other.seconds.items():
            self.seconds[name] += values
        self.statuses.update(other.statuses)

    def bad(self) -> int:
        """Answers that are a 5xx or a dropped connection."""
        return sum(n for (_name, status), n in self.statuses.items() if status == "error" or status >= 500)


# --- 1. the slots' latency ------------------------------------------------------------------

SERIES = (("400, no work", FLOOR), ("health", HEALTH), ("slots 7 days", SLOTS_7), ("slots 21 days", SLOTS_21))


def latency(port: int, requests: int, threads: int, master: int | None = None) -> tuple[Tally, float, dict, Counter]:
    """`requests` of each of SERIES, interleaved, from one thread or spread over `threads`.

    Returns the tally, the wall-clock seconds, how many slots each look-up returned
    and, from one thread, the workers' CPU seconds per series: one thread sends
    CHUNK of one kind, then CHUNK of the next, reading the workers' CPU time
    around each block.
    """
    tally, counts, cpu = Tally(), {}, Counter()

    def get(name: str, path: str) -> None:
        status, body, seconds = call(port, "GET", path)
        tally.add(name, status, seconds)
        if status == 200 and body and "slots" in body:
            counts[name] = len(body["slots"])

    def blocks() -> None:
        done = 0
        while done < requests:
            size = min(CHUNK, requests - done)
            for name, path in SERIES:
                before = worker_cpu(master)
                for _ in range(size):
                    get(name, path)
                cpu[name] += worker_cpu(master) - before
            done += size

    def one_thread(rounds: int) -> None:
        for _ in range(rounds):
            for name, path in SERIES:
                get(name, path)
    started = time.perf_counter()
    if threads == 1 and master is not None:
        blocks()
    else:
        run_threads([lambda r=r: one_thread(r)
                     for r in (requests // threads + (i < requests % threads) for i in range(threads))])
    return tally, time.perf_counter() - started, counts, cpu


def run_threads(targets) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- 2. the baseline: plain leads -------------------------------------------------------------

class Numbers:
    """Visitor numbers, unique across the run and its threads."""

    def __init__(self, first: int):
        self.next, self.lock = first, threading.Lock()

    def take(self) -> int:
        with self.lock:
            self.next += 1
            return self.next


def plain_leads(port: int, threads: int, seconds: float, numbers: Numbers) -> tuple[Tally, float]:
    """Consultation leads without a slot, back to back from every thread, for `seconds`."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    def one_thread() -> None:
        while time.perf_counter() < deadline:
            status, _body, took = call(port, "POST", "/api/forms/consultation",
                                       visitor(numbers.take(), PLAIN_DOMAIN))
            tally.add("plain POST", status, took)
    started = time.perf_counter()
    run_threads([one_thread] * threads)
    return tally, time.perf_counter() - started


# --- 3. bookings ---------------------------------------------------------------------------------

class Round:
    """One booking round's answers and outcomes."""

    def __init__(self):
        self.tally = Tally()
        self.outcomes: Counter = Counter()  # booked on try 1/2/3, gave up, calendar full, error
        self.booked_ids: set[str] = set()
        self.seconds = 0.0
        self.ended_by = ""
        self.topped_up = 0  # bookings made one at a time after the round (the first round only)
        self.hosts: Counter = Counter()  # booked meetings per host, from the database
        self.rows = 0
        self.lock = threading.Lock()

    def booked(self, lead_id: str, tries: int) -> None:
        with self.lock:
            self.booked_ids.add(lead_id)
            self.outcomes[f"booked on try {tries}"] += 1


def book_one(port: int, n: int, popular: bool, rng: random.Random, rnd: Round, floor: int) -> bool:
    """One visitor: fetch the free slots, post one, retry with an offered one on 409.

    Returns False when the calendar was (nearly) full, which ends the round.
    """
    status, body, took = call(port, "GET", SLOTS_21)
    rnd.tally.add("slots GET", status, took)
    if status != 200:
        rnd.outcomes["error"] += 1
        return True
    free = body["slots"]
    if len(free) <= floor:
        rnd.outcomes["saw the calendar nearly full"] += 1
        return False
    pick = free[0] if popular else rng.choice(free)
    for tries in range(1, TRIES + 1):
        status, body, took = call(port, "POST", "/api/forms/consultation", visitor(n, BOOKING_DOMAIN, pick["start"]))
        rnd.tally.add("booking POST", status, took)
        rnd.tally.add(f"booking POST {status}", status, took)
        if status == 201:
            rnd.booked(body["id"], tries)
            return True
        offered = (body or {}).get("slots") if status == 409 else None
        if not offered:
            rnd.outcomes["gave up: nothing offered" if status == 409 else f"answer {status}"] += 1
            return True
        pick = offered[0] if popular else rng.choice(offered)
    rnd.outcomes[f"gave up after {TRIES} tries"] += 1
    return True


def booking_round(port: int, threads: int, floor: int, seconds: float, bookings: int | None,
                  numbers: Numbers, seed: int) -> Round:
    """Visitors from every thread until the calendar is nearly full, `seconds` pass or `bookings` are made."""
    rnd, stop = Round(), threading.Event()
    deadline = time.perf_counter() + seconds
    popular = max(1, threads // 4)

    def one_thread(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        while not stop.is_set():
            if time.perf_counter() >= deadline:
                rnd.ended_by = rnd.ended_by or "time"
                stop.set()
            elif bookings is not None and len(rnd.booked_ids) >= bookings:
                rnd.ended_by = rnd.ended_by or "bookings"
                stop.set()
            elif not book_one(port, numbers.take(), i < popular, rng, rnd, floor):
                rnd.ended_by = rnd.ended_by or "calendar nearly full"
                stop.set()
    started = time.perf_counter()
    run_threads([lambda i=i: one_thread(i) for i in range(threads)])
    rnd.seconds = time.perf_counter() - started
    return rnd


def top_up(port: int, floor: int, numbers: Numbers, rnd: Round) -> int:
    """Book the first free slot, one visitor at a time, until the calendar is nearly full (untimed)."""
    made = 0
    while True:
        status, body, _took = call(port, "GET", SLOTS_21)
        if status != 200 or len(body["slots"]) <= floor:
            return made
        status, body, _took = call(port, "POST", "/api/forms/consultation",
                                   visitor(numbers.take(), BOOKING_DOMAIN, body["slots"][0]["start"]))
        rnd.tally.statuses["top-up POST", status] += 1
        if status == 201:
            rnd.booked_ids.add(body["id"])
            made += 1
        elif status != 409:
            return made


class LockSampler:
    """On PostgreSQL: how often one of the app's connections holds, or waits for, the bookings' lock.

    Samples only while `active` is set (the booking load, not the pauses between rounds).
    """

    QUERY = text("SELECT count(*) FILTER (WHERE l.granted), count(*) FILTER (WHERE NOT l.granted) "
                 "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                 "WHERE l.locktype = 'advisory' AND l.objid = :key AND a.application_name = :app")

    def __init__(self, engine, interval: float = 0.02):
        self.engine, self.interval = engine, interval
        self.samples, self.held, self.waiting = 0, 0, 0
        self.active, self.stop_event = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop_event.wait(self.interval):
                if not self.active.is_set():
                    continue
                held, waiting = conn.execute(self.QUERY, {"key": LOCK_KEY, "app": APP_NAME}).one()
                conn.rollback()
                self.samples += 1
                self.held += held > 0
                self.waiting += waiting

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join()


# --- the checks --------------------------------------------------------------------------------

def check_round(engine, buffer: timedelta, length: timedelta, rnd: Round) -> tuple[list[str], Counter]:
    """Problems in the database after a round (none expected), and the booked meetings per host."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(bookings.c.lead_id, bookings.c.host, bookings.c.starts_at, bookings.c.ends_at,
                   leads.c.id.label("lead"))
            .select_from(bookings.outerjoin(leads, leads.c.id == bookings.c.lead_id))
            .where(bookings.c.status == "booked")).all()
        other = conn.execute(select(func.count()).select_from(bookings)
                             .where(bookings.c.status != "booked")).scalar_one()
    problems = []
    by_host = defaultdict(list)
    for row in rows:
        by_host[row.host].append(row)
        if row.lead is None:
            problems.append(f"booking for lead {row.lead_id}: the lead is not stored")
        if row.ends_at - row.starts_at != length:
            problems.append(f"{row.host} at {row.starts_at}: lasts {row.ends_at - row.starts_at}")
    for host, meetings in by_host.items():
        meetings.sort(key=lambda r: r.starts_at)
        reach = None  # the latest end so far, plus the buffer
        for row in meetings:
            if reach is not None and row.starts_at < reach:
                problems.append(f"{host}: the meeting at {row.starts_at} is within {buffer} of an earlier one")
            reach = max(reach or row.ends_at + buffer, row.ends_at + buffer)
    ids = {row.lead_id for row in rows}
    answered = sum(n for (name, status), n in rnd.tally.statuses.items()
                   if status == 201 and name in ("booking POST", "top-up POST"))
    if answered != len(rows) or ids != rnd.booked_ids:
        problems.append(f"{answered} answers 201 but {len(rows)} booked rows "
                        f"({len(rnd.booked_ids - ids)} answered leads without a booking, "
                        f"{len(ids - rnd.booked_ids)} booked leads never answered 201)")
    if other:
        problems.append(f"{other} bookings not in state booked (nothing here cancels)")
    return problems, Counter({host: len(meetings) for host, meetings in by_host.items()})


def empty_outbox(engine) -> None:
    """Drop the queued messages (no worker sends them here): /api/health counts the outbox, so it
    costs the same before and after the loads only if the outbox is empty both times."""
    with engine.begin() as conn:
        conn.execute(delete(outbox))


def booking_leads(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(leads)
                            .where(leads.c.email.like(f"%{BOOKING_DOMAIN}"))).scalar_one()


def clear_calendar(engine) -> None:
    """Delete the round's bookings so the next round starts on an empty calendar (the leads stay)."""
    with engine.begin() as conn:
        conn.execute(delete(bookings))


# --- the processes, the database ------------------------------------------------------------------

def database(url: str | None, folder: str):
    """(URL for the app, cleanup): a temporary SQLite file, or a private PostgreSQL schema."""
    return private_database(url, folder, "booking", application_name=APP_NAME)

def worker_cpu(master: int) -> float:
    """CPU seconds used so far by gunicorn's workers."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (from /proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def warm_up(port: int, workers: int) -> None:
    """Every worker imports, connects and computes slots before anything is timed."""
    latency(port, 4 * workers, 4)


# --- the run ----------------------------------------------------------------------------------------

def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
                                               " (a private schema, dropped afterwards; default: SQLite)")
    parser.add_argument("--threads", type=int, default=16, help="client threads posting (default 16)")
    parser.add_argument("--seconds", type=float, default=15,
                        help="the baseline's load, and the booking rounds' load in all (default 15)")
    parser.add_argument("--bookings", type=int, help="stop the booking load after this many bookings")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--requests", type=int, default=300,
                        help="of each GET for the latency figures, sequential and concurrent (default 300)")
    args = parser.parse_args()
    if args.threads < 2:
        parser.error("--threads must be at least 2 (a popular picker and a random one)")
    return args


class Meter:
    """CPU over the slices of one kind of load: gunicorn's workers, the whole machine, this client."""

    def __init__(self, master: int):
        self.master = master
        self.workers = self.machine = self.client = self.seconds = 0.0

    @contextmanager
    def slice(self):
        workers, machine, client, started = (worker_cpu(self.master), machine_busy(), time.process_time(),
                                             time.perf_counter())
        yield
        self.workers += worker_cpu(self.master) - workers
        self.machine += machine_busy() - machine
        self.client += time.process_time() - client
        self.seconds += time.perf_counter() - started

    def cores(self) -> str:
        return (f"machine busy {self.machine / self.seconds:.2f} cores (web workers "
                f"{self.workers / self.seconds:.2f}, this client {self.client / self.seconds:.2f})")


def run(args, env: dict, engine, sales) -> dict:
    """Every phase; the server started here is stopped here.

    Booking rounds and baseline slices alternate, each slice as long as the round
    before it, so that whatever else the machine does weighs on both alike.
    """
    consultation = sales.consultation
    server = Gunicorn(env, workers=args.workers)
    r: dict = {"rounds": [], "problems": [], "plain": Tally(), "plain_seconds": 0.0,
               "plain_meter": Meter(server.proc.pid), "book_meter": Meter(server.proc.pid)}
    numbers = Numbers(0)
    sampler = None
    try:
        warm_up(server.port, args.workers)
        print("slots' latency on an empty calendar ...", file=sys.stderr)
        r["empty"] = (latency(server.port, args.requests, 1, server.proc.pid),
                      latency(server.port, args.requests, LATENCY_THREADS, server.proc.pid))
        empty_free = r["empty"][0][2]["slots 21 days"]
        floor = int(empty_free * NEARLY_FULL)
        r["empty_free"] = empty_free

        sampler = r["sampler"] = LockSampler(engine) if args.database_url else None
        left, made = args.seconds, 0
        while left > 0.5 and (args.bookings is None or made < args.bookings):
            number = len(r["rounds"]) + 1
            print(f"bookings: round {number}, {args.threads} threads ({left:.1f} s of load left) ...",
                  file=sys.stderr)
            with r["book_meter"].slice():
                if sampler:
                    sampler.active.set()
                rnd = booking_round(server.port, args.threads, floor, left,
                                    None if args.bookings is None else args.bookings - made, numbers, number)
                if sampler:
                    sampler.active.clear()
            left -= rnd.seconds
            made += len(rnd.booked_ids)
            if number == 1:  # the nearly full calendar for the latency figures
                rnd.topped_up = top_up(server.port, floor, numbers, rnd)
                empty_outbox(engine)
                print("slots' latency on the nearly full calendar ...", file=sys.stderr)
                r["full"] = (latency(server.port, args.requests, 1, server.proc.pid),
                             latency(server.port, args.requests, LATENCY_THREADS, server.proc.pid))
            problems, rnd.hosts = check_round(engine, consultation.buffer, consultation.length, rnd)
            rnd.rows = sum(rnd.hosts.values())
            r["problems"] += [f"round {number}: {p}" for p in problems]
            clear_calendar(engine)
            r["rounds"].append(rnd)

            print(f"baseline: plain leads from {args.threads} threads for {rnd.seconds:.1f} s ...",
                  file=sys.stderr)
            with r["plain_meter"].slice():
                tally, seconds = plain_leads(server.port, args.threads, rnd.seconds, numbers)
            r["plain"].merge(tally)
            r["plain_seconds"] += seconds
    finally:
        if sampler:
            sampler.stop()
        server.stop()
    booked = sum(len(rnd.booked_ids) for rnd in r["rounds"])
    stored = booking_leads(engine)
    if stored != booked:
        r["problems"].append(f"{stored} leads from booking visitors stored, {booked} bookings answered 201 "
                             "(a refused booking must leave no lead)")
    return r


def main() -> int:
    args = arguments()
    sales = load_sales(ROOT / DEFAULTS["SALES"], ZoneInfo(DEFAULTS["TIMEZONE"]))
    with tempfile.TemporaryDirectory(prefix="booking-") as folder:
        url, drop = database(args.database_url, folder)
        engine = create_engine(url)
        env = {"CAPTURE_DATABASE_URL": url, "CAPTURE_SECRET_KEY": SECRET, "CAPTURE_DOTENV": "0",
               "CAPTURE_RATELIMIT": "", "CAPTURE_BOOKING_RATELIMIT": "",
               "CAPTURE_MAIL_URL": f"file:{folder}/mail",
               "CAPTURE_EMBEDDED_WORKER": "0"}
        try:
            result = run(args, env, engine, sales)
        finally:
            engine.dispose()
            drop()
    return report(args, result)


# --- the figures ---------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest rank, in milliseconds."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)] * 1000 if ordered else float("nan")


def p50_p99(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):6.1f} ms  p99 {percentile(values, 99):6.1f} ms"


def statuses(tally: Tally, name: str) -> str:
    found = Counter({status: n for (key, status), n in tally.statuses.items() if key == name})
    return " · ".join(f"{status} {n}" for status, n in sorted(found.items(), key=lambda kv: str(kv[0])))


def latency_lines(label: str, run: tuple, threads: int) -> list[str]:
    tally, seconds, counts, cpu = run
    base = percentile(tally.seconds["health"], 50)
    lines = [f"  {label}, {threads} thread{'s' if threads > 1 else ''}"
             f" ({sum(len(v) for v in tally.seconds.values()) / seconds:.0f} requests/s in all):"]
    for name, _path in SERIES:
        values = tally.seconds[name]
        shown = f" ({counts[name]} free)" if name in counts else ""
        ratio = "      (baseline)" if name == "health" else f"   ×{percentile(values, 50) / base:.2f} health's p50"
        used = f"   worker CPU {1000 * cpu[name] / len(values):.2f} ms" if cpu else ""
        lines.append(f"    {name + shown:<26} n={len(values):<4} {p50_p99(values)}{ratio}{used}")
    return lines


def report(args, r: dict) -> int:
    where = "PostgreSQL (a private schema)" if args.database_url else "SQLite (a temporary file)"
    popular = max(1, args.threads // 4)
    print(f"\nbooking: gunicorn {args.workers} sync workers, {where}, one client process on the same machine "
          f"({os.cpu_count()} cores); rate limit off, no mail worker")
    print(f"GET latency, {args.requests} of each, interleaved with the baseline GET /api/health:")
    for label, key in (("empty calendar", "empty"), ("nearly full calendar", "full")):
        if key in r:
            lines = latency_lines(label, r[key][0], 1) + latency_lines(label, r[key][1], LATENCY_THREADS)
            print("\n".join(lines))
    first = r["rounds"][0] if r["rounds"] else None
    if first is not None:
        print(f"  (nearly full: the first round's {first.rows} meetings, {first.topped_up} of them booked "
              f"one by one after it; empty: {r['empty_free']} free slots in 21 days)")

    plain, plain_s = r["plain"], r["plain_seconds"]
    n_plain = len(plain.seconds["plain POST"])
    print(f"throughput, {args.threads} client threads:")
    print(f"  baseline: plain leads     {n_plain} in {plain_s:.1f} s = {n_plain / plain_s:6.1f} leads/s   "
          f"POST {p50_p99(plain.seconds['plain POST'])}")
    print(f"    worker CPU {1000 * r['plain_meter'].workers / max(1, n_plain):.2f} ms per lead, "
          f"{r['plain_meter'].cores()}   answers {statuses(plain, 'plain POST')}")

    rounds = r["rounds"]
    seconds = sum(rnd.seconds for rnd in rounds)
    merged, outcomes, hosts = Tally(), Counter(), Counter()
    for rnd in rounds:
        merged.merge(rnd.tally)
        outcomes.update(rnd.outcomes)
        hosts.update(rnd.hosts)
    booked = merged.statuses["booking POST", 201]
    conflicts = merged.statuses["booking POST", 409]
    posts = len(merged.seconds["booking POST"])
    visitors = sum(outcomes.values())
    print(f"  bookings: {len(rounds)} round{'s' if len(rounds) != 1 else ''} "
          f"({', '.join(f'{rnd.seconds:.1f} s to {rnd.ended_by}' for rnd in rounds)}), "
          f"{popular} threads take the first slot, {args.threads - popular} a random one")
    print(f"    booked                  {booked} in {seconds:.1f} s = {booked / seconds:6.1f} bookings/s   "
          f"(×{booked / seconds / (n_plain / plain_s):.2f} the baseline's leads/s)")
    print(f"    booking POST            n={posts:<5} {p50_p99(merged.seconds['booking POST'])}   "
          f"(×{percentile(merged.seconds['booking POST'], 50) / percentile(plain.seconds['plain POST'], 50):.2f}"
          f" the plain POST's p50)")
    print(f"      answered 201          n={booked:<5} {p50_p99(merged.seconds['booking POST 201'])}")
    print(f"      answered 409          n={conflicts:<5} {p50_p99(merged.seconds['booking POST 409'])}")
    print(f"    slots GET (21 days)     n={len(merged.seconds['slots GET']):<5} {p50_p99(merged.seconds['slots GET'])}")
    print(f"    answers                 POST {statuses(merged, 'booking POST')};  GET {statuses(merged, 'slots GET')}")
    print(f"    409 conflicts           {conflicts} ({100 * conflicts / max(1, posts):.1f} % of booking POSTs)")
    print(f"    visitors                {visitors}, booked {booked} ({100 * booked / max(1, visitors):.0f} %): "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    requests = posts + len(merged.seconds["slots GET"])
    print(f"    requests                {requests / seconds:.1f}/s (slot GETs and booking POSTs; the baseline "
          f"{n_plain / plain_s:.1f}/s)")
    meter = r["book_meter"]
    print(f"    worker CPU              {1000 * meter.workers / max(1, booked):.2f} ms per booking "
          f"({1000 * meter.workers / max(1, requests):.2f} ms per request), {meter.cores()}")
    print("    meetings per host       " + ", ".join(f"{h} {n}" for h, n in sorted(hosts.items())))
    sampler = r.get("sampler")
    if sampler and sampler.samples:
        waiting = sampler.waiting / sampler.samples  # connections waiting, on average
        print(f"    advisory lock           held in {100 * sampler.held / sampler.samples:.0f} % of "
              f"{sampler.samples} samples, {waiting:.2f} of {args.workers} workers waiting on average "
              f"(≈ {1000 * waiting * seconds / max(1, posts):.1f} ms per booking POST)")
    bad = plain.bad() + merged.bad() + sum(run[0].bad() for key in ("empty", "full") if key in r for run in r[key])
    checked = sum(rnd.rows for rnd in rounds)
    print(f"database check          {'FAILED' if r['problems'] else 'OK'}: {checked} booked meetings in "
          f"{len(rounds)} round(s); checked: no host's meetings closer than the buffer, every booked lead "
          "stored, booked rows = the 201 answers (same leads), no lead left by a 409")
    for problem in r["problems"][:10]:
        print(f"  ! {problem}")
    if bad:
        print(f"  ! {bad} answers were a 5xx or a dropped connection")
    failed = bool(r["problems"] or bad)
    print("FAILED" if failed else "OK: no double booking, no lost or extra booking, no 5xx")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
