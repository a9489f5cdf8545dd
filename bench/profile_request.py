"""Where a lead's request spends its time under gunicorn: py-spy samples, grouped by stage.

    .venv/bin/python bench/profile_request.py [--seconds 8] [--postgres URL]

Starts gunicorn (1 synchronous worker, so every sample is one request's work) with the real
app, and with bench/bare_app.py as the baseline, loads each with wrk (8 connections, the same
form post as bench/capture_throughput.py), and samples the worker with py-spy (250 Hz,
blocking, idle time left out). Each sample is charged to the innermost stage on its stack;
the table prints each stage's share and its milliseconds per request (share × the worker's
measured CPU per request). Needs `wrk` and `py-spy` (pip install py-spy).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capture_throughput import (postgres_schema, real_env, worker_cpu_seconds,  # noqa: E402
                                      wrk)
from tests.gunicorn_server import Gunicorn  # noqa: E402

PY_SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
# Innermost match wins: (stage, what identifies a frame of it: "function (file"), most specific first.
STAGES = (
    ("database: commit", ("commit (",)),
    ("database: inserts and pool", ("_save (store.py", "raw_connection (", "_checkin (")),
    ("email-validator", ("validate_email (validate_email.py",)),
    ("validation (rest)", ("validate_submission (validation.py", "clean_attribution (validation.py")),
    ("logging a lead id", ("info (__init__.py",)),
    ("building the row and jobs", ("lead_row (store.py", "jobs_for_lead (outbox.py", "new_lead_id (")),
    ("reading the body", ("parse_body (api.py",)),
    ("the 201 answer", ("received (api.py",)),
    ("CORS and Vary headers", ("cors_headers (api.py",)),
    ("the view (rest)", ("submit (api.py", "submit (bare_app.py")),
    ("Flask request/response", ("wsgi_app (app.py",)),
    ("gunicorn: HTTP and socket", ("handle (sync.py",)),
)


def frame_name(frame: str) -> str:
    """'SyncWorker.handle (gunicorn/workers/sync.py:141)' as 'handle (sync.py' (py-spy 0.4.1 and 0.4.3)."""
    if " (" not in frame:
        return frame
    function, where = frame.split(" (", 1)
    return f"{function.rsplit('.', 1)[-1]} ({where.split(':')[0].rsplit('/', 1)[-1]}"


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, marks in STAGES:
            if any(frame.startswith(mark) for mark in marks):
                return stage
    return "other"


def profile(env: dict, app: str, seconds: int) -> tuple[Counter, float]:
    server = Gunicorn(env, workers=1, app=app, args=("--worker-class", "sync"))
    try:
        worker = int(subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True,
                                    text=True, check=True).stdout.split()[0])
        wrk(server.url, 2, 8)  # warm-up
        out = Path(tempfile.mkstemp(suffix=".txt")[1])
        spy = subprocess.Popen([PY_SPY, "record", "--pid", str(worker), "--rate", "250",
                                "--duration", str(seconds), "--format", "raw", "--output", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu_before = worker_cpu_seconds(server.proc.pid)
        load = threading.Thread(target=lambda: results.update(wrk(server.url, seconds + 1, 8)))
        results: dict = {}
        load.start()
        spy.wait()
        load.join()
        cpu_ms = (worker_cpu_seconds(server.proc.pid) - cpu_before) * 1000 / (results["rps"] * (seconds + 1))
    finally:
        server.stop()
    samples = Counter()
    for row in out.read_text().splitlines():
        stack, count = row.rsplit(" ", 1)
        frames = [frame_name(f) for f in stack.split(";")]
        samples[stage_of(frames)] += int(count)
    out.unlink()
    return samples, cpu_ms


def report(name: str, samples: Counter, cpu_ms: float) -> None:
    total = sum(samples.values())
    print(f"\n{name}: {cpu_ms:.3f} ms of worker CPU per request, {total} samples")
    for stage, _ in (*STAGES, ("other", ())):
        if samples[stage]:
            share = samples[stage] / total
            print(f"  {stage:<28} {share * 100:5.1f}%  {share * cpu_ms:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    if not shutil.which("wrk") or not PY_SPY:
        sys.exit("bench: needs wrk (apt-get install wrk) and py-spy (pip install py-spy)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = [("bare Flask", {}, "bench.bare_app:app"),
                ("real, SQLite", real_env(f"sqlite:///{tmp / 'bench.db'}", tmp), "capture:create_app()")]
        admin = None
        if args.postgres:
            admin, schema = postgres_schema(args.postgres)
            runs.append(("real, PostgreSQL",
                         real_env(f"{args.postgres}?options=-csearch_path%3D{schema}", tmp),
                         "capture:create_app()"))
        try:
            found = [(name, *profile(env, app, args.seconds)) for name, env, app in runs]
        finally:
            if admin is not None:
                from sqlalchemy import text
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    print("\nprofile_request: gunicorn 1 sync worker, wrk 8 connections, py-spy 250 Hz")
    for name, samples, cpu_ms in found:
        report(name, samples, cpu_ms)


if __name__ == "__main__":
    main()
