"""The import graph of capture/: no circle, no upward import, no import hidden in a function.

Layers, lowest first; a module may import its own layer and those below. The features
share a layer (a booking changes a lead's status through the pipeline; the spam tray
cancels bookings through the booking module), but never in a circle.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from capture.core.paths import ROOT

PACKAGE = ROOT / "capture"
LAYERS = [
    {"core"}, {"schema"}, {"db"}, {"context"}, {"delivery"},
    {"intake", "pipeline", "booking", "traffic", "reports", "privacy", "inbound"},
    {"desk"}, {"cli"}, {"ops"}, {"app", "sitebuild"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The capture modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "capture"]
    if node.level or not (node.module or "").startswith("capture"):
        return []
    # `from capture.x import y` loads capture.x.y when y is a module, else names in capture.x.
    return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
            for a in node.names]


def graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        edges[name] = {target for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                       for target in imported(node) if target != "capture"}
    return edges


def layer(module: str) -> int:
    parts = module.split(".")
    return RANK[parts[1]] if len(parts) > 1 else -1  # the package itself: below everything


def test_every_module_has_a_layer():
    assert {m.split(".")[1] for m in MODULES if "." in m} <= set(RANK)


def test_no_import_is_hidden_in_a_function():
    hidden = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                hidden += [f"{name}:{n.lineno}" for n in ast.walk(func) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert hidden == []


def test_imports_flow_downwards():
    upward = [f"{source} -> {target}" for source, targets in graph().items() for target in targets
              if layer(target) > layer(source)]
    assert upward == []


def test_the_import_graph_has_no_circle():
    edges, state, path, circles = graph(), {}, [], []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert circles == []


@pytest.mark.parametrize("module", ["capture.schema.forms", "capture.core.paths"])
def test_the_site_build_imports_what_it_needs_without_flask(module):
    # sitebuild.py runs inside MkDocs: loading the form schema must not start the service.
    code = f"import sys, {module}; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
