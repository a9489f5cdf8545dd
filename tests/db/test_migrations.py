"""Migrations stay runnable as written: they import no application code."""
import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

VERSIONS = ROOT / "capture" / "db" / "migrations" / "versions"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (a function-level import counts too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.name)
def test_a_migration_imports_no_application_code(path):
    # The app's code changes; a migration must do what it did when it was written, so whatever
    # it needs is copied into it. (env.py may read models.metadata: it is not a migration.)
    app_imports = sorted(m for m in imported_modules(path) if m == "capture" or m.startswith(("capture.", ".")))
    assert not app_imports, f"{path.name} imports {', '.join(app_imports)}: copy what it needs instead"


def test_every_migration_is_scanned():
    assert len(list(VERSIONS.glob("*.py"))) >= 7
