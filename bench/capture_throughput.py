"""Throughput of the lead path against a bare Flask POST, under the same load.

Starts gunicorn (2 workers) with the real app and with bench/bare_app.py,
drives each with wrk (32 connections) posting a valid consultation form,
and prints requests/s, p50, p99, errors and the ratio real/bare. The
bare run comes first in the same invocation, so machine noise affects
both alike.

    .venv/bin/python bench/capture_throughput.py [--seconds 10] [--postgres URL]

Needs `wrk` (Debian package). With --postgres, the real app also runs on
PostgreSQL in a private schema that is dropped afterwards.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.gunicorn_server import Gunicorn  # noqa: E402

FORM = {"name": "Ada Lovelace", "email": "ada@analytical.example.com", "meeting_kind": "phone",
        "phone": "+44 20 7946 0018",
        "company": "Analytical Engines", "service": "business", "budget": "5k-10k",
        "preferred_date": (date.today() + timedelta(days=7)).isoformat(),
        "preferred_time": "09:00-12:00", "message": "A new site for our gear shop.", "consent": "on",
        "page_url": "https://www.fernleaf.example/services/business/", "first_utm_source": "newsletter"}
SECRET = "bench-secret-0123456789abcdef"
# As deployed (deploy/gunicorn.conf.py): synchronous workers. BENCH_GUNICORN_ARGS
# tries others, e.g. "--worker-class gthread --threads 4".
GUNICORN_ARGS = tuple(os.environ.get("BENCH_GUNICORN_ARGS", "--worker-class sync").split())


def wrk(url: str, seconds: int, connections: int) -> dict:
    """Run wrk against url and parse its summary."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    body = urlencode(FORM).replace('"', '\\"')
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        'wrk.headers["Accept"] = "application/json"\n')
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"{url}/api/forms/consultation"], capture_output=True, text=True, check=True).stdout
    script.unlink()
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
            "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
            "errors": _errors(out)}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def _errors(out: str) -> int:
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)


def measure(env: dict, app: str, seconds: int) -> dict:
    server = Gunicorn(env, workers=2, app=app, args=GUNICORN_ARGS)
    try:
        wrk(server.url, 2, 32)  # warm-up: imports, connection pools, statement caches
        cpu_before = worker_cpu_seconds(server.proc.pid)
        result = wrk(server.url, seconds, 32)
        cpu = worker_cpu_seconds(server.proc.pid) - cpu_before
        result["cpu_ms"] = cpu * 1000 / max(1, result["rps"] * seconds)
        return result
    finally:
        server.stop()


def worker_cpu_seconds(master_pid: int) -> float:
    """CPU time used so far by gunicorn's workers (less noisy than wall-clock rates)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / tick


def real_env(database_url: str, tmp: Path) -> dict:
    return {"CAPTURE_DATABASE_URL": database_url, "CAPTURE_SECRET_KEY": SECRET, "CAPTURE_RATELIMIT": "",
            "CAPTURE_MAIL_URL": f"file:{tmp / 'mail'}", "CAPTURE_EMBEDDED_WORKER": "0"}


def postgres_schema(base_url: str):
    schema = f"capture_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return admin, schema


def line(name: str, r: dict, base: dict | None) -> str:
    ratio = f"  ratio real/bare {r['rps'] / base['rps']:.2f}" if base else ""
    return (f"{name:<18} {r['rps']:>8.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:7.2f} ms  "
            f"CPU {r['cpu_ms']:.3f} ms/req  errors {r['errors']}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--postgres", default="", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["bare Flask"] = measure({}, "bench.bare_app:app", args.seconds)
        results["real, SQLite"] = measure(real_env(f"sqlite:///{tmp / 'bench.db'}", tmp),
                                          "capture:create_app()", args.seconds)
        if args.postgres:
            admin, schema = postgres_schema(args.postgres)
            try:
                url = f"{args.postgres}?options=-csearch_path%3D{schema}"
                results["real, PostgreSQL"] = measure(real_env(url, tmp), "capture:create_app()", args.seconds)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    base = results["bare Flask"]
    print(f"\ncapture_throughput: gunicorn 2 workers ({' '.join(GUNICORN_ARGS)}), wrk 32 connections, "
          f"{args.seconds} s each")
    for name, r in results.items():
        print(line(name, r, None if r is base else base))


if __name__ == "__main__":
    main()
