"""Speed to lead: from the visitor's POST being answered to sales' mail server accepting the mail.

Starts an aiosmtpd sink and gunicorn (2 workers, as `make serve`) with the
embedded mail worker, submits consultation requests at a steady rate and
measures, per lead, the time from the POST's response to the moment the sink
accepted its first sales notification (and, separately, the visitor's
confirmation). The baseline, measured first in the same run, is the floor:
the same sink accepting a message of the same size handed to it directly
with smtplib at the same rate.

    .venv/bin/python bench/speed_to_lead.py [--rate 20] [--seconds 30] [--postgres URL]

Prints p50/p95/max last. Target: p95 <= 1 s for the sales notification.
"""
from __future__ import annotations

import argparse
import json
import re
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiosmtpd.controller import Controller  # noqa: E402

from databases import private_database  # noqa: E402
from tests.gunicorn_server import Gunicorn, free_port  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
LEAD_HEADER = re.compile(rb"^X-Capture-Lead: (\S+)", re.M | re.I)


def form(i: int) -> dict:
    return {"name": f"Ada Lovelace {i}", "email": f"ada{i}@analytical.example.com",
            "meeting_kind": "phone", "phone": "+44 20 7946 0018", "company": "Analytical Engines",
            "service": "business",
            "budget": "5k-10k", "preferred_date": (date.today() + timedelta(days=7)).isoformat(),
            "preferred_time": "09:00-12:00", "message": "A new site for our gear shop.",
            "consent": "on", "page_url": "https://www.fernleaf.example/services/business/",
            "first_utm_source": "newsletter"}


class Sink:
    """Records (wall-clock time, lead id, is-confirmation) for every accepted message."""

    def __init__(self):
        self.arrivals: list[tuple[float, bytes, bool]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        found = LEAD_HEADER.search(envelope.content)
        with self.lock:
            self.arrivals.append((now, found.group(1) if found else b"", b".confirm@" in envelope.content))
        return "250 OK"


def pcts(values: list[float]) -> str:
    if not values:
        return "no data"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return (f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
            f"max {ordered[-1] * 1000:7.1f} ms   (n={len(ordered)})")


def steady(rate: float, seconds: float, action) -> list:
    """Call action(i) at a steady rate from a small thread pool; returns the results."""
    count, start = int(rate * seconds), time.monotonic() + 0.2

    def run(i):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return action(i)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(run, range(count)))


def baseline(port: int, rate: float, seconds: float) -> list[float]:
    """Direct smtplib hand-offs to the sink: the floor any worker sits on."""
    body = "x" * 6000  # about the size of a notification

    def send(i):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", f"baseline {i}"
        msg.set_content(body)
        started = time.time()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as conn:
            conn.send_message(msg)
        return time.time() - started

    return steady(rate, seconds, send)


def submit(url: str):
    def post(i):
        request = urllib.request.Request(
            f"{url}/api/forms/consultation", data=json.dumps(form(i)).encode(), method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            lead_id = json.loads(response.read())["id"]
        return lead_id.encode(), time.time()
    return post


def database(url: str | None, folder: str):
    """(URL for the app, cleanup): a temporary SQLite file, or a private PostgreSQL schema."""
    return private_database(url, folder, "bench")

def confirmed(sink) -> int:
    """How many leads' confirmations the sink has accepted so far."""
    with sink.lock:
        return len({lead for _at, lead, confirm in sink.arrivals if confirm})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20, help="leads per second (default 20)")
    parser.add_argument("--seconds", type=float, default=30, help="how long to submit (default 30)")
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, server_hostname="sink.localhost")
    controller.start()
    folder = tempfile.mkdtemp(prefix="speed-to-lead-")
    url, drop = database(args.postgres, folder)
    try:
        print(f"baseline: direct SMTP hand-offs at {args.rate:g}/s for 10 s ...", file=sys.stderr)
        floor = baseline(port, args.rate, 10)
        with sink.lock:
            sink.arrivals.clear()
        env = {"CAPTURE_DATABASE_URL": url, "CAPTURE_SECRET_KEY": SECRET, "CAPTURE_RATELIMIT": "",
               "CAPTURE_MAIL_URL": f"smtp://127.0.0.1:{port}", "CAPTURE_EMBEDDED_WORKER": "1"}
        log = open(Path(folder) / "gunicorn.log", "wb")
        server = Gunicorn(env, workers=2, log=log)
        try:
            print(f"leads: POST at {args.rate:g}/s for {args.seconds:g} s ...", file=sys.stderr)
            answered = dict(steady(args.rate, args.seconds, submit(server.url)))
            # Done when every lead's confirmation (sent after all its sales mail) has arrived.
            deadline = time.time() + 30
            while time.time() < deadline and confirmed(sink) < len(answered):
                time.sleep(0.1)
        finally:
            server.stop()
            log.close()
    finally:
        controller.stop()
        drop()

    first_sales, confirmation = {}, {}
    for at, lead, confirm in sink.arrivals:
        target = confirmation if confirm else first_sales
        target.setdefault(lead, at)
    sales = [first_sales[k] - t for k, t in answered.items() if k in first_sales]
    confirm = [confirmation[k] - t for k, t in answered.items() if k in confirmation]
    missing = len(answered) - len(sales)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nspeed to lead, {len(answered)} leads at {args.rate:g}/s for {args.seconds:g} s, "
          f"gunicorn 2 workers + embedded mail worker, {backend}, aiosmtpd sink on loopback")
    print(f"baseline  direct SMTP hand-off             {pcts(floor)}")
    print(f"response → sales notification accepted     {pcts(sales)}")
    print(f"response → visitor confirmation accepted   {pcts(confirm)}")
    print(f"notifications never accepted: {missing}")


if __name__ == "__main__":
    main()
