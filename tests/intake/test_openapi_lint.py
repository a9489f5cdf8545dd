"""Redocly CLI lints the served description with its recommended ruleset: no errors, no warnings.

Redocly comes from the npm registry at the exact version tests/e2e/package.json pins (`make
test` runs `npm ci` there); without node or that install the test skips locally, and fails
with CAPTURE_REQUIRE_SERVICES=1 (CI).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_service

E2E = Path(__file__).parents[1] / "e2e"
REDOCLY = E2E / "node_modules" / ".bin" / "redocly"
# Warnings of the recommended ruleset that do not fit, each with why. Errors have no such list.
ACCEPTED_WARNINGS = {
    # They take no input (no parameters, no body): nothing a client sends can be a 4xx.
    ("operation-4xx-response", "#/paths/~1api~1health/get/responses"),
    ("operation-4xx-response", "#/paths/~1api~1openapi.json/get/responses"),
}


@pytest.fixture
def database_url(sqlite_url) -> str:
    """The description does not depend on the database: one run is enough."""
    return sqlite_url


def pinned_version() -> str:
    return json.loads((E2E / "package.json").read_text())["dependencies"]["@redocly/cli"]


def lint(document: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """`redocly lint --extends recommended` as JSON: (the run, its problems)."""
    if shutil.which("node") is None or not REDOCLY.exists():
        need_service("Redocly CLI is not installed: run `npm ci` in tests/e2e (make test does)")
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    result = subprocess.run([str(REDOCLY), "lint", str(document), "--extends", "recommended",
                             "--format", "json"], cwd=document.parent, env=env,
                            capture_output=True, text=True, timeout=120)
    start = result.stdout.find("{")
    assert start >= 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result, json.loads(result.stdout[start:])["problems"]


@pytest.mark.slow
def test_redocly_recommended_ruleset_finds_nothing_in_the_served_description(client, tmp_path):
    document = tmp_path / "openapi.json"
    document.write_text(client.get("/api/openapi.json").get_data(as_text=True))
    version = subprocess.run([str(REDOCLY), "--version"], capture_output=True, text=True,
                             timeout=60).stdout if REDOCLY.exists() else ""
    result, problems = lint(document)
    assert pinned_version() in version, version
    found = [(p["severity"], p["ruleId"], p["message"], [loc.get("pointer") for loc in p.get("location", [])])
             for p in problems]
    assert not [f for f in found if f[0] == "error"], found
    unexpected = [f for f in found if not {(f[1], pointer) for pointer in f[3]} <= ACCEPTED_WARNINGS]
    assert not unexpected, "\n".join(map(str, unexpected))
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_broken_description_is_caught(tmp_path):
    """The run really lints: a document without servers, security or operationIds has errors."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
                                    "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}))
    result, problems = lint(document)
    assert result.returncode != 0
    assert {"no-empty-servers", "security-defined", "operation-operationId"} <= {p["ruleId"] for p in problems}
