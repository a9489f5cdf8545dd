"""Flood: a genuine visitor's leads while bots post as fast as the machine allows.

Starts an aiosmtpd sink, gunicorn with deploy/gunicorn.conf.py (sync workers,
as many as production would run on this machine) and a separate mail worker
(`flask --app capture worker`, as the systemd unit), all as behind nginx:
CAPTURE_TRUSTED_PROXIES=1 and the default CAPTURE_RATELIMIT per client address.

Baseline first, in the same run: the genuine visitor alone, one lead a second.
Then the flood: bot processes post to /api/forms/contact and /consultation
from loopback with X-Forwarded-For rotating over thousands of 10.x addresses
(a few bots reuse three addresses, which must end in 429): honeypot filled,
SEO/backlink/crypto pitches with links, invalid answers (422) and garbage
JSON (400), while the visitor goes on submitting one lead a second. Each
genuine lead comes from its own address (separate people; one address at one
lead a second would meet the 10-a-minute limit itself).

Afterwards the mail worker drains the outbox; every genuine lead must be
stored and its sales mail and confirmation accepted by the sink. Bot leads
are told apart by their addresses (bot-…@flood.example vs
visitor-N@genuine.example); the notifications they caused (outbox rows, mails
the sink accepted) should be zero.

    .venv/bin/python bench/flood.py [--seconds 30] [--bots 16] [--database-url URL]

Prints its figures last. Exits 1 if a genuine lead was lost or not notified,
or any answer was a 5xx or a dropped connection.
"""
from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import math
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from databases import private_database  # noqa: E402
from capture.core.clock import utcnow  # noqa: E402
from capture.core.settings import DEFAULTS  # noqa: E402
from capture.db.models import leads, outbox  # noqa: E402
from tests.gunicorn_server import Gunicorn, free_port  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
SITE = "www.fernleaf.example"
BOT_DOMAIN = "@flood.example"
GENUINE_DOMAIN = "@genuine.example"
HEADER = re.compile(rb"^(X-Capture-Lead|Message-ID): *(\S+)", re.M | re.I)
ROTATING_POOL = 5000  # addresses 10.1.0.0 … for the rotating bots
REUSED = ("10.255.255.1", "10.255.255.2", "10.255.255.3")
KINDS = (("honeypot", 25), ("pitch", 35), ("invalid", 25), ("garbage", 15))
NOTIFICATIONS = ("notify_sales", "confirm_visitor")
WARM_UP = 100_000  # visitor numbers from here on warm the workers up and are not counted
# The content filter's verdict (spam, suspect, clean); before it, only the honeypot's reason.
VERDICT = leads.c.verdict if "verdict" in leads.c else leads.c.spam_reason


def soon() -> str:
    """A weekday a week or so ahead, valid for the consultation's date field."""
    day = date.today() + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.isoformat()


# --- the genuine visitor ---------------------------------------------------------

PEOPLE = [("Hannah Whitfield", "Whitfield Physio", "ecommerce"), ("Tomasz Nowak", "Nowak Joinery", "business"),
          ("Priya Raman", "Raman & Co Accountants", "starter"), ("Gareth Lloyd", "Lloyd's Bakery", "unsure"),
          ("Sofia Marquez", "Casa Marquez Tapas", "business"), ("Eilidh Fraser", "Fraser Dog Grooming", "starter")]
OPENINGS = [
    "We run a small physiotherapy clinic and most bookings still come by phone.",
    "Our current site was made by a friend years ago and does not work well on phones.",
    "I am opening a second shop in the autumn and want one site for both, with opening hours.",
    "Could you tell me what the starter package includes and how long it usually takes?",
]
WISHES = [
    "We would like customers to see our prices and ask for an appointment online",
    "We want to show our past work with good photos and a few reviews",
    "A way to order for collection would help us a lot",
    "Mostly we need something that looks trustworthy and is easy for us to update",
]


TOWNS = ["Leeds", "Bristol", "Norwich", "Exeter", "York", "Derby", "Bath", "Hull", "Truro", "Ely"]
TRADES = ["handmade candles", "bicycle repairs", "wedding cakes", "garden design", "dog grooming",
          "vintage furniture", "yoga classes", "plumbing", "tax advice", "piano lessons"]


def genuine_message(n: int, company: str) -> str:
    """Each visitor's own words: the filter notices one text sent by many addresses, even with
    only its numbers changed, so each visitor here differs in words (a town and a trade)."""
    return (f"{OPENINGS[n % len(OPENINGS)]} {WISHES[n // len(OPENINGS) % len(WISHES)]}, ideally within "
            f"{n % 9 + 3} weeks. We do {TRADES[n % len(TRADES)]} in {TOWNS[n // len(TRADES) % len(TOWNS)]}: "
            f"there are {n % 7 + 2} of us at {company}. Happy to talk on a weekday morning.")


def genuine_form(n: int) -> tuple[str, dict]:
    """Visitor n's submission, as the site's script sends it (the hidden honeypot empty)."""
    name, company, service = PEOPLE[n % len(PEOPLE)]
    values = {"name": name, "email": f"visitor-{n}{GENUINE_DOMAIN}", "phone": "+44 20 7946 0018",
              "company": company, "message": genuine_message(n, company), "consent": "on", "fax": "",
              "time_on_form": "45000", "referrer": "https://www.google.com/",
              "first_utm_source": "google", "first_utm_medium": "organic"}
    if n % 3 == 2:
        return "contact", {**values, "page_url": f"https://{SITE}/contact/"}
    return "consultation", {**values, "service": service, "budget": "5k-10k", "meeting_kind": "phone",
                            "preferred_date": soon(),
                            "preferred_time": "09:00-12:00", "page_url": f"https://{SITE}/consultation/"}


def visitor_address(n: int) -> str:
    return str(ipaddress.IPv4Address("172.16.0.1") + n)


def post_genuine(port: int, n: int) -> dict:
    """One submission; the response time includes connecting, as a browser's would."""
    form_id, values = genuine_form(n)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
               "Origin": f"https://{SITE}", "Referer": values["page_url"], "Host": SITE,
               "X-Forwarded-For": visitor_address(n), "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": SITE}
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", f"/api/forms/{form_id}", body=urlencode(values), headers=headers)
        response = conn.getresponse()
        body = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        body, status = str(exc).encode(), "error"
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    lead_id = json.loads(body).get("id") if status == 201 else None
    return {"n": n, "status": status, "seconds": seconds, "answered": time.time(), "id": lead_id}


def visitor(port: int, first: int, count: int) -> list[dict]:
    """One lead a second (on schedule even when an answer is slow)."""
    start = time.monotonic() + 0.1

    def run(i):
        delay = start + i - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return post_genuine(port, first + i)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(run, range(count)))


def warm_up(port: int, workers: int) -> None:
    """Leads into every worker before anything is timed (first requests pay for imports and connections)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda n: post_genuine(port, n), range(WARM_UP, WARM_UP + 4 * workers)))


# --- the bots ----------------------------------------------------------------------

PITCHES = [
    "Hello, I was checking fernleaf.example and noticed you are not on the first page of Google for your "
    "main keywords. We guarantee TOP 3 rankings in 30 days or your money back! See our results "
    "https://rank-rocket.example/case-studies and prices http://rank-rocket.example/pricing "
    "WhatsApp us now: https://wa.example/4479460000",
    "Dear Website Owner, we sell high DA/DR guest posts and PBN backlinks from only $5 per link. "
    "Over 20,000 sites in our list: https://linkfarm.example/list https://linkfarm.example/order "
    "Bulk discounts available http://bit.example/3xBL9 Reply STOP to unsubscribe.",
    "Make $5,000 a week from home with our AI crypto trading bot!!! No experience needed. Join 80,000 "
    "happy investors: https://quantum-profit.example/join?ref=fern Withdraw any time "
    "https://quantum-profit.example/withdraw telegram https://t.example/quantumprofit",
    "Hi there, would you like more traffic to your website? We can send 50,000 real visitors per month "
    "to your site for just $49. Try it free: http://traffic-flood.example/free "
    "https://traffic-flood.example/plans http://traffic-flood.example/unsubscribe",
]
GREETINGS = ["Hi,", "Good day!", "Dear Sir/Madam,", "Hello team,", "Greetings,"]
SPAM_NAMES = ["SEO Expert", "Mike Johnson", "Crypto Investments", "Rank Rocket Team", "dfgdfgdf", "Emily"]


def bot_values(rng: random.Random, form_id: str, email: str, message: str) -> dict:
    values = {"name": rng.choice(SPAM_NAMES), "email": email, "company": "Digital Growth Agency",
              "phone": "+1 202 555 0" + str(rng.randint(100, 199)), "message": message, "consent": "on"}
    if form_id == "consultation":
        values.update(service=rng.choice(["starter", "business", "ecommerce", "unsure"]), meeting_kind="phone",
                      budget=rng.choice(["under-2k", "over-10k", "unknown"]), preferred_date=soon(),
                      preferred_time="09:00-12:00", website="https://rank-rocket.example/")
    if rng.random() < 0.5:
        values["time_on_form"] = str(rng.randint(300, 2500))
    return values


def bot_request(rng: random.Random, kind: str, serial: str) -> tuple[str, bytes, dict]:
    """(path, body, headers) for one bot request of `kind`."""
    form_id = rng.choice(["contact", "consultation"])
    email = f"bot-{serial}{BOT_DOMAIN}"
    as_json = rng.random() < 0.5
    if kind == "garbage":
        body = rng.choice([b'{"name": "x", "email": ', b"\xff\xfe\x00not json", b"[1, 2, 3]", b"null",
                           b'{"message": "unterminated}'])
        return f"/api/forms/{form_id}", body, {"Content-Type": "application/json"}
    message = rng.choice(PITCHES)
    if rng.random() < 0.5:  # spun, as campaigns do, so no two are the same text
        message = f"{rng.choice(GREETINGS)} {message} Offer code {rng.randrange(10**6):06d}."
    values = bot_values(rng, form_id, email, message)
    if kind == "honeypot":
        values["fax"] = rng.choice(["+1 202 555 0143", "1", "http://rank-rocket.example/"])
    elif kind == "invalid":
        broken = rng.choice(["email", "consent", "name", "date"])
        if broken == "email":
            values["email"] = "not-an-address"
        elif broken == "date" and form_id == "consultation":
            values["preferred_date"] = "2001-01-01"
        else:
            values.pop(broken if broken != "date" else "consent")
    if as_json:
        return f"/api/forms/{form_id}", json.dumps(values).encode(), {"Content-Type": "application/json"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if kind == "invalid" or rng.random() < 0.5:
        headers["Accept"] = "application/json"
    return f"/api/forms/{form_id}", urlencode(values).encode(), headers


def bot_thread(port: int, role: str, seed: int, stop, counts: Counter, errors: list) -> None:
    """Post back to back until stopped; keep-alive whenever the server allows it."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    names, weights = zip(*KINDS)
    serial = 0
    while not stop.is_set():
        serial += 1
        kind = rng.choices(names, weights)[0]
        path, body, headers = bot_request(rng, kind, f"{seed}-{serial}")
        address = rng.choice(REUSED) if role == "reuse" else str(
            ipaddress.IPv4Address("10.1.0.0") + rng.randrange(ROTATING_POOL))
        headers.update({"X-Forwarded-For": address, "X-Forwarded-Proto": "https", "Host": SITE,
                        "X-Forwarded-Host": SITE})
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            status = "error"
            conn.close()
            if len(errors) < 5:
                errors.append(repr(exc))
        counts[(role, kind, status)] += 1
    conn.close()


def bot_process(port: int, roles: list[str], seed: int, ready, go, stop, results) -> None:
    """One process of bot threads; reports a Counter of (role, kind, status) at the end."""
    counts, errors = Counter(), []
    ready.put(seed)
    go.wait()
    cpu = time.process_time()
    threads = [threading.Thread(target=bot_thread, args=(port, role, seed * 1000 + i, stop, counts, errors))
               for i, role in enumerate(roles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((dict(counts), errors, time.process_time() - cpu))


class Bots:
    """`bots` bot threads spread over up to `processes` processes; `reusers` of them reuse REUSED."""

    def __init__(self, port: int, bots: int, reusers: int, processes: int):
        ctx = multiprocessing.get_context("spawn")  # not fork: this process runs threads (the sink)
        self.ready, self.results = ctx.Queue(), ctx.Queue()
        self.go, self.stop_event = ctx.Event(), ctx.Event()
        roles = ["reuse"] * reusers + ["rotate"] * (bots - reusers)
        processes = max(1, min(processes, bots))
        self.procs = [ctx.Process(target=bot_process, daemon=True,
                                  args=(port, roles[i::processes], i + 1, self.ready, self.go,
                                        self.stop_event, self.results))
                      for i in range(processes)]
        for proc in self.procs:
            proc.start()
        for _ in self.procs:
            self.ready.get(timeout=60)

    def start(self) -> None:
        self.go.set()

    def stop(self) -> tuple[Counter, list[str]]:
        self.stop_event.set()
        counts, errors, self.cpu = Counter(), [], 0.0
        for _ in self.procs:
            part, errs, cpu = self.results.get(timeout=120)
            counts.update(part)
            errors += errs
            self.cpu += cpu
        for proc in self.procs:
            proc.join(timeout=10)
        return counts, errors

    def kill(self) -> None:
        self.go.set()
        self.stop_event.set()
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


# --- the SMTP sink, the processes, the database ----------------------------------------

class Sink:
    """Records (arrival time, lead id, Message-ID, recipients) of every accepted message."""

    def __init__(self):
        self.mails: list[tuple[float, str, str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        found = {k.decode().lower(): v.decode() for k, v in HEADER.findall(envelope.content[:8192])}
        with self.lock:
            self.mails.append((time.time(), found.get("x-capture-lead", ""),
                               found.get("message-id", ""), list(envelope.rcpt_tos)))
        return "250 OK"

    def snapshot(self) -> list:
        with self.lock:
            return list(self.mails)


def web_processes(master: int) -> list[int]:
    """The gunicorn master and its workers."""
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def memory(master: int) -> dict:
    """Summed VmRSS (and PSS, which counts pages shared after fork once) of the web processes, KiB."""
    rss = pss = 0
    pids = web_processes(master)
    for pid in pids:
        try:
            rss += int(re.search(r"^VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))
            pss += int(re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M).group(1))
        except (OSError, AttributeError):
            continue
    return {"rss": rss, "pss": pss, "processes": len(pids)}


def cpu_of(pid: int, reaped: bool = False) -> float:
    """CPU seconds a process used so far (and, if `reaped`, its children it has waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(master: int, worker: int) -> Counter:
    """CPU seconds so far: the web processes (recycled workers included), the mail worker,
    this script (sink and visitor), and the whole machine (busy, from /proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return Counter(web=sum(cpu_of(pid, reaped=pid == master) for pid in web_processes(master)),
                   mail=cpu_of(worker), script=time.process_time(),
                   machine=(sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"))


def database(url: str | None, folder: str):
    """(URL for the app, cleanup): a temporary SQLite file, or a private PostgreSQL schema."""
    return private_database(url, folder, "flood")

def start_worker(env: dict, log) -> subprocess.Popen:
    """The mail worker, as fernleaf-worker.service runs it."""
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "capture", "worker", "--name", "mail"],
                            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def due_backlog(engine) -> int:
    """Messages due now that are not sent yet (scheduled reminders are not due)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(
            outbox.c.status.in_(("pending", "sending")), outbox.c.available_at <= utcnow())).scalar_one()


def drain(engine, timeout: float) -> float | None:
    """Wait until the worker has nothing due left; seconds it took, or None on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if due_backlog(engine) == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


# --- what happened -----------------------------------------------------------------------

def genuine_check(engine, answers: list[dict], mails: list) -> dict:
    """Stored (not as spam) and every sales mail and confirmation accepted by the sink, per lead."""
    received = {message_id for _at, _lead, message_id, _to in mails}
    first_mail: dict[str, float] = {}
    for at, lead, _mid, _to in mails:
        first_mail.setdefault(lead, at)
    with engine.connect() as conn:
        rows = {r.email: r for r in conn.execute(
            select(leads.c.id, leads.c.email, leads.c.spam, VERDICT.label("verdict"))
            .where(leads.c.email.like(f"visitor-%{GENUINE_DOMAIN}")))}
        jobs = Counter()
        sent = Counter()
        for job in conn.execute(select(outbox.c.lead_id, outbox.c.message_id, outbox.c.kind)
                                .where(outbox.c.kind.in_(NOTIFICATIONS))):
            jobs[job.lead_id] += 1
            sent[job.lead_id] += job.message_id in received
    stored = notified = 0
    verdicts, delays, problems = Counter(), [], []
    for answer in answers:
        row = rows.get(f"visitor-{answer['n']}{GENUINE_DOMAIN}")
        if row is None:
            problems.append(f"visitor {answer['n']}: not stored (answer {answer['status']})")
            continue
        stored += 1
        verdicts[row.verdict] += 1
        if jobs[row.id] and sent[row.id] == jobs[row.id]:
            notified += 1
            delays.append(first_mail[row.id] - answer["answered"])
        else:
            problems.append(f"visitor {answer['n']}: {sent[row.id]} of {jobs[row.id]} messages received")
    return {"stored": stored, "notified": notified, "verdicts": verdicts, "delays": delays, "problems": problems}


def bot_check(engine, mails: list) -> dict:
    """Bot leads stored (and judged spam, by reason) and the notifications they caused."""
    bot = leads.c.email.like(f"%{BOT_DOMAIN}")
    with engine.connect() as conn:
        verdicts = Counter({(r.spam, r.verdict): r.n for r in conn.execute(
            select(leads.c.spam, VERDICT.label("verdict"), func.count().label("n")).where(bot)
            .group_by(leads.c.spam, VERDICT))})
        kinds = Counter({r.kind: r.n for r in conn.execute(
            select(outbox.c.kind, func.count().label("n")).select_from(outbox.join(leads))
            .where(bot).group_by(outbox.c.kind))})
        ids = {r.id for r in conn.execute(select(leads.c.id).where(bot))}
    bot_mails = sum(1 for _at, lead, _mid, to in mails
                    if lead in ids or any(r.endswith(BOT_DOMAIN) for r in to))
    return {"verdicts": verdicts, "outbox": kinds, "mails": bot_mails}


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: with 30 values p99 is the slowest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)] if ordered else float("nan")


def latency(answers: list[dict]) -> tuple[float, float]:
    seconds = [a["seconds"] for a in answers]
    return percentile(seconds, 50) * 1000, percentile(seconds, 99) * 1000


def status_group(status) -> str:
    if status in (201, 303):
        return "201/303"
    if status in (400, 422, 429):
        return str(status)
    if status == "error":
        return "dropped"
    return "5xx" if status >= 500 else "other"


# --- the run -------------------------------------------------------------------------------

def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="how long the flood lasts (default 30)")
    parser.add_argument("--baseline-seconds", type=int, default=10, help="the visitor alone first (default 10)")
    parser.add_argument("--bots", type=int, default=16, help="concurrent bot connections (default 16)")
    parser.add_argument("--reusers", type=int, default=2, help="of them, bots reusing 3 addresses (default 2)")
    parser.add_argument("--processes", type=int, default=4, help="bot processes (default 4)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--database-url", help="PostgreSQL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
                                               " (a private schema, dropped afterwards; default: SQLite)")
    parser.add_argument("--drain-timeout", type=float, default=900, help="longest wait for the outbox (s)")
    args = parser.parse_args()
    if not 0 <= args.reusers < args.bots:
        parser.error("--reusers must be fewer than --bots")
    args.workers = args.workers or min(2 * os.cpu_count() + 1, 8)  # deploy/gunicorn.conf.py's default
    return args


def run(args, env: dict, engine, folder: str) -> dict:
    """Warm-up, baseline, flood, drain; every process started here is stopped here."""
    log = open(Path(folder) / "server.log", "wb")
    server = worker = bots = None
    try:
        server = Gunicorn(env, workers=args.workers, log=log, args=("-c", "deploy/gunicorn.conf.py"))
        worker = start_worker(env, log)
        warm_up(server.port, args.workers)
        drain(engine, 60)
        print(f"baseline: the visitor alone for {args.baseline_seconds} s ...", file=sys.stderr)
        alone = visitor(server.port, 1, args.baseline_seconds)
        drain(engine, 60)
        before = memory(server.proc.pid)

        print(f"flood: {args.bots} bots for {args.seconds} s, the visitor still one lead a second ...",
              file=sys.stderr)
        bots = Bots(server.port, args.bots, args.reusers, args.processes)
        cpu_start = cpu_snapshot(server.proc.pid, worker.pid)
        started = time.monotonic()
        bots.start()
        flood = visitor(server.port, 1 + args.baseline_seconds, args.seconds)
        counts, errors = bots.stop()
        duration = time.monotonic() - started
        cpu_end = cpu_snapshot(server.proc.pid, worker.pid)
        cores = Counter({k: (cpu_end[k] - cpu_start[k]) / duration for k in cpu_end}, bots=bots.cpu / duration)
        after = memory(server.proc.pid)
        bots = None

        print("waiting for the mail worker to drain the outbox ...", file=sys.stderr)
        drained = drain(engine, args.drain_timeout)
        time.sleep(0.5)  # the sink's last acceptances
    finally:
        if bots is not None:
            bots.kill()
        if worker is not None:
            stop_process(worker)
        if server is not None:
            server.stop()
        log.close()
    recycled = (Path(folder) / "server.log").read_bytes().count(b"Booting worker") - args.workers
    return {"alone": alone, "flood": flood, "counts": counts, "errors": errors, "duration": duration,
            "cores": cores, "before": before, "after": after, "drained": drained, "recycled": recycled}


def main() -> int:
    args = arguments()
    with tempfile.TemporaryDirectory(prefix="flood-") as folder:
        sink, smtp_port = Sink(), free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port, server_hostname="sink.localhost")
        controller.start()
        url, drop = database(args.database_url, folder)
        engine = create_engine(url)
        env = {"CAPTURE_DATABASE_URL": url, "CAPTURE_SECRET_KEY": SECRET, "CAPTURE_DOTENV": "0",
               "CAPTURE_MAIL_URL": f"smtp://127.0.0.1:{smtp_port}", "CAPTURE_EMBEDDED_WORKER": "0",
               "CAPTURE_TRUSTED_PROXIES": "1", "CAPTURE_RATELIMIT": DEFAULTS["RATELIMIT"],
               "CAPTURE_RATELIMIT_STORAGE": DEFAULTS["RATELIMIT_STORAGE"]}
        try:
            result = run(args, env, engine, folder)
            mails = sink.snapshot()
            result["genuine"] = genuine_check(engine, result["alone"] + result["flood"], mails)
            result["base_delay"] = genuine_check(engine, result["alone"], mails)["delays"]
            result["flood_delay"] = genuine_check(engine, result["flood"], mails)["delays"]
            result["caused"] = bot_check(engine, mails)
        finally:
            engine.dispose()
            drop()
            controller.stop()
    return report(args, result)


# --- the figures ---------------------------------------------------------------------------

def report(args, r: dict) -> int:
    """Print the figures; 1 if a genuine lead was lost or not notified, or a 5xx / dropped connection."""
    groups, by_kind, reuse = Counter(), {name: Counter() for name, _w in KINDS}, Counter()
    for (role, kind, status), n in r["counts"].items():
        groups[status_group(status)] += n
        by_kind[kind][status_group(status)] += n
        reuse[role, status == 429] += n
    total, duration, cores = sum(groups.values()), r["duration"], r["cores"]
    genuine, caused = r["genuine"], r["caused"]
    wanted = len(r["alone"]) + len(r["flood"])
    genuine_bad = [a["status"] for a in r["alone"] + r["flood"] if a["status"] != 201]
    base50, base99 = latency(r["alone"])
    flood50, flood99 = latency(r["flood"])

    print(f"\nflood: {args.seconds} s of bots against gunicorn ({args.workers} sync workers, deploy/gunicorn.conf.py)"
          f" + a separate mail worker, {'PostgreSQL' if args.database_url else 'SQLite'}, aiosmtpd sink; "
          f"CAPTURE_TRUSTED_PROXIES=1, CAPTURE_RATELIMIT '{DEFAULTS['RATELIMIT']}' "
          f"({DEFAULTS['RATELIMIT_STORAGE']}: counted per worker)")
    print(f"bots               {args.bots} connections in {min(args.processes, args.bots)} processes: "
          f"{args.bots - args.reusers} rotating over {ROTATING_POOL} addresses in 10.1.0.0/16, "
          f"{args.reusers} reusing {len(REUSED)} addresses")
    print(f"bot requests       {total} in {duration:.1f} s = {total / duration:.0f}/s   "
          f"(web workers recycled during the run: {r['recycled']})")
    others = cores["machine"] - cores["web"] - cores["mail"] - cores["script"] - cores["bots"]
    print(f"  CPU (cores)      machine busy {cores['machine']:.2f} of {os.cpu_count()}: web {cores['web']:.2f}, "
          f"bots {cores['bots']:.2f}, mail worker {cores['mail']:.2f}, sink and visitor {cores['script']:.2f}, "
          f"other processes {max(0.0, others):.2f}")
    print("  answers          " + "  ".join(f"{g} {groups[g]}" for g in
                                             ("201/303", "422", "400", "429", "other", "5xx", "dropped")))
    for kind, c in by_kind.items():
        print(f"    {kind:<14} " + "  ".join(f"{g} {n}" for g, n in sorted(c.items())))
    reusing, rotating = reuse["reuse", True] + reuse["reuse", False], reuse["rotate", True] + reuse["rotate", False]
    print(f"  429 share        {100 * groups['429'] / max(1, total):.1f} % of all; "
          f"reusing bots {100 * reuse['reuse', True] / max(1, reusing):.1f} % of {reusing}, "
          f"rotating bots {100 * reuse['rotate', True] / max(1, rotating):.1f} % of {rotating}")
    if r["errors"]:
        print(f"  connection errors, first: {r['errors'][0]}")
    print(f"genuine response   baseline (alone, n={len(r['alone'])})  p50 {base50:7.1f} ms  p99 {base99:7.1f} ms")
    print(f"                   during the flood (n={len(r['flood'])})  p50 {flood50:7.1f} ms  p99 {flood99:7.1f} ms")
    print(f"                   ratio flood/baseline        p50 {flood50 / base50:6.2f}x    "
          f"p99 {flood99 / base99:6.2f}x")
    print(f"genuine leads      answered 201 {wanted - len(genuine_bad)}/{wanted}, stored {genuine['stored']}/{wanted}, "
          f"notified {genuine['notified']}/{wanted} (every sales mail and confirmation accepted by the sink); "
          "verdicts " + ", ".join(f"{v} {n}" for v, n in sorted(genuine["verdicts"].items(), key=str)))
    base, flood = r["base_delay"], r["flood_delay"]
    print(f"  answer → mail    baseline p50 {percentile(base, 50):.2f} s  max {max(base, default=0):.2f} s;  "
          f"flood p50 {percentile(flood, 50):.2f} s  max {max(flood, default=0):.2f} s")
    for problem in genuine["problems"][:10]:
        print(f"  ! {problem}")
    verdicts, held = Counter(), 0
    for (spam, verdict), n in caused["verdicts"].items():
        verdicts[verdict or "clean"] += n
        held += n if spam else 0
    stored = sum(verdicts.values())
    print(f"bot leads stored   {stored}: held as spam (nobody told) {held}, told to sales {stored - held}; "
          "verdicts " + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items())))
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(caused["outbox"].items()))
    print(f"bot notifications  outbox rows {sum(caused['outbox'].values())} ({kinds or 'none'}), "
          f"mails received {caused['mails']}   (goal: 0)")
    print("outbox drained     " + (f"{r['drained']:.1f} s after the flood" if r["drained"] is not None
                                   else f"NOT within {args.drain_timeout:g} s"))
    before, after = r["before"], r["after"]
    print(f"web memory         before {before['rss'] / 1024:.1f} MiB RSS ({before['pss'] / 1024:.1f} MiB PSS, "
          f"{before['processes']} processes), after {after['rss'] / 1024:.1f} MiB RSS "
          f"({after['pss'] / 1024:.1f} MiB PSS, {after['processes']} processes): "
          f"{(after['rss'] - before['rss']) / 1024:+.1f} MiB RSS")
    failed = (genuine["stored"] < wanted or genuine["notified"] < wanted or genuine_bad
              or groups["5xx"] or groups["dropped"])
    print("FAILED: a genuine lead was lost or not notified, or a 5xx / dropped connection" if failed
          else "OK: every genuine lead stored and notified, no 5xx")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
