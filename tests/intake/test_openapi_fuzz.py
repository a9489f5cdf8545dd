"""Schemathesis against the live `/api/openapi.json`: real gunicorn on loopback, on both databases.

Over a thousand generated requests across every described operation (valid and invalid bodies
in each declared content type, odd headers, undeclared methods and media types) must get no 5xx
and no answer the description does not declare: status, content type, headers and body. Every
check runs: a request the description allows is never refused (ST202), one it rules out is.
The CLI runs in a subprocess against the server's own URL and writes an NDJSON event log,
which is read here to count what was really sent and answered.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.gunicorn_server import Gunicorn

MIN_CASES = 1000
# Per operation, for the fuzzing phase. The coverage phase adds its own, about 2,800 in all: for
# each form, starting from the description's examples, every field at its boundaries, of a
# wrong type, missing; every content type, a body that is not JSON, odd headers and methods.
# CAPTURE_TEST_FUZZ_EXAMPLES=<n> runs longer (handbook/development.md, "The API description").
MAX_EXAMPLES = int(os.environ.get("CAPTURE_TEST_FUZZ_EXAMPLES", "150"))
# Fixed so a run can be repeated exactly; CAPTURE_TEST_FUZZ_SEED=<n> explores other inputs.
SEED = os.environ.get("CAPTURE_TEST_FUZZ_SEED", "20261127")
# Every check schemathesis has, positive_data_acceptance (ST202) included: the description says
# exactly what the server accepts (capture/intake/openapi_fields.py), so a request it allows is
# never refused, and one it rules out is (negative_data_rejection).
CHECKS = "all"
# Seconds for the whole run: about 40 s on two cores at the default; a longer run gets more.
RUN_TIMEOUT = 240 + MAX_EXAMPLES
REQUIRED_CHECKS = {"not_a_server_error", "status_code_conformance", "content_type_conformance",
                   "response_headers_conformance", "response_schema_conformance",
                   "positive_data_acceptance", "negative_data_rejection"}
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def server(database_url, tmp_path):
    """The app under gunicorn (two workers) with the submission rate limit lifted."""
    env = {"CAPTURE_DATABASE_URL": database_url, "CAPTURE_SECRET_KEY": TEST_SECRET,
           "CAPTURE_RATELIMIT": "", "CAPTURE_MAIL_URL": f"file:{tmp_path / 'mail'}",
           "CAPTURE_EMBEDDED_WORKER": "0"}
    with (tmp_path / "gunicorn.log").open("wb") as log:
        running = Gunicorn(env, workers=2, log=log)  # migrates on start (CAPTURE_AUTO_MIGRATE)
        yield running
        running.stop()


def run_schemathesis(url: str, folder: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """`schemathesis run` against the live description; the NDJSON event log's path."""
    events = folder / "events.ndjson"
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/api/openapi.json",
               "--url", url,
               # Naming the paths also selects GET /api/openapi.json, which schemathesis
               # otherwise leaves out as "the document it was given".
               "--include-path-regex", "^/api/",
               "--checks", CHECKS,
               "--phases", "examples,coverage,fuzzing",
               "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
               "--continue-on-failure", "--max-redirects", "0", "--request-timeout", "20",
               # Generation speed depends on the machine; every other health check stays on.
               "--suppress-health-check", "too_slow", "--generation-database", "none",
               "--report", "ndjson", "--report-ndjson-path", str(events),
               "--no-color", "--output-truncate", "false"]
    # Loopback only, never through a proxy; cwd is the test's folder, so schemathesis'
    # cache (.schemathesis/) stays there and no earlier run's crashes are replayed.
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    return result, events


def described_operations(url: str) -> set[str]:
    """Every operation in the live description, as `METHOD /path`."""
    with urllib.request.urlopen(f"{url}/api/openapi.json", timeout=10) as response:
        spec = json.load(response)
    return {f"{method.upper()} {path}" for path, item in spec["paths"].items()
            for method in item if method in HTTP_METHODS}


def read_events(path: Path) -> dict:
    """Per operation: requests answered; their statuses, checks run, failures and errors."""
    answered, statuses, checks_run, failures, errors = Counter(), Counter(), set(), {}, []
    for line in path.read_text().splitlines():
        (kind, event), = json.loads(line).items()
        if kind in ("NonFatalError", "FatalError"):
            errors.append(json.dumps(event)[:2000])
        if kind != "ScenarioFinished":
            continue
        recorder = event["recorder"]
        label = recorder["label"]
        if event["status"] in ("error", "interrupted"):
            errors.append(f"{label}: {event['phase']} phase ended with {event['status']}")
        for case_id, interaction in recorder.get("interactions", {}).items():
            if interaction.get("response") is None:
                errors.append(f"{label}: no response to case {case_id}")
                continue
            answered[label] += 1
            statuses[interaction["response"]["status_code"]] += 1
            if interaction["response"]["status_code"] >= 500:
                add_failure(failures, label, "5xx", interaction)
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                checks_run.add(check["name"])
                if check["status"] != "success":
                    add_failure(failures, label, check, recorder["interactions"].get(case_id))
    return {"answered": answered, "statuses": statuses, "checks": checks_run, "failures": failures,
            "errors": errors}


def add_failure(failures: dict, label: str, check, interaction: dict | None) -> None:
    """Group failures by operation, check, status and content type; keep the first request."""
    if isinstance(check, dict):
        failure = (check.get("failure_info") or {}).get("failure") or {}
        check = f"{check['name']} ({failure.get('title', check['status'])}: {failure.get('message', '')})"
    response = (interaction or {}).get("response") or {}
    key = (label, check, response.get("status_code"), str(response.get("headers", {}).get("content-type")))
    example, count = failures.get(key, (interaction, 0))
    failures[key] = (example, count + 1)


def report(failures: dict) -> str:
    """Each kind of failure once, with how often it happened and one request that caused it."""
    lines = [f"{sum(count for _, count in failures.values())} failed check(s), {len(failures)} kind(s):"]
    for (label, check, status, content_type), (interaction, count) in failures.items():
        lines.append(f"- {count} x {label}: {check} -> {status} {content_type}")
        if interaction:
            request = interaction["request"]
            body = request.get("body")
            if isinstance(body, dict) and "$base64" in body:
                body = base64.b64decode(body["$base64"]).decode("utf-8", "replace")
            lines.append(f"    e.g. {request['method']} {request['uri']} headers={request['headers']}"
                         f" body={str(body)[:400]!r}")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_generated_requests_get_only_described_answers_and_never_a_5xx(server, tmp_path):
    started = time.monotonic()
    result, events = run_schemathesis(server.url, tmp_path)
    elapsed = time.monotonic() - started
    output = result.stdout[-6000:] + result.stderr[-3000:]
    assert events.exists(), output
    seen = read_events(events)
    assert not seen["errors"], "\n".join(seen["errors"][:10]) + "\n" + output
    if seen["failures"]:
        pytest.fail(report(seen["failures"]) + "\n" + output, pytrace=False)
    assert result.returncode == 0, output
    answered, statuses = seen["answered"], seen["statuses"]
    assert set(answered) == described_operations(server.url), answered
    assert all(answered.values()), answered
    assert sum(answered.values()) >= MIN_CASES, answered
    assert REQUIRED_CHECKS <= seen["checks"], seen["checks"]
    # Leads were really stored (JSON and browser posts), not only refused.
    assert statuses[201] and statuses[303], statuses
    print(f"\n{sum(answered.values())} cases in {elapsed:.0f} s: {dict(answered)}; "
          f"statuses {dict(sorted(statuses.items()))}")
