"""The handbook (handbook/) stays true: the command-line reference matches the commands, every
setting is documented, every link lands, and the public site never picks the handbook up."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from capture.core.settings import DEFAULTS, READ_ELSEWHERE
from tests.conftest import ROOT

HANDBOOK = ROOT / "handbook"
CLI_REFERENCE = HANDBOOK / "reference" / "cli.md"
PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *HANDBOOK.rglob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


@pytest.mark.slow
@pytest.mark.timeout(120)  # about 18 commands, each started as its own `flask` process
def test_the_cli_reference_is_what_the_commands_say():
    """`make docs` writes it again; run that when this fails."""
    done = subprocess.run([sys.executable, "-m", "cogapp", "--check", "--diff",
                           "--check-fail-msg=run `make docs`", str(CLI_REFERENCE.relative_to(ROOT))],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_cli_reference_shows_no_machine_of_its_own():
    generated = CLI_REFERENCE.read_text().split("]]] -->", 1)[1].split("<!-- [[[end]]]", 1)[0]
    assert "Usage: flask leads list [OPTIONS]" in generated
    assert str(ROOT) not in generated and "/tmp" not in generated


def test_every_setting_is_in_the_settings_reference():
    text = (HANDBOOK / "reference" / "settings.md").read_text()
    missing = [f"CAPTURE_{name}" for name in sorted(set(DEFAULTS) | READ_ELSEWHERE)
               if f"`CAPTURE_{name}`" not in text and f"CAPTURE_{name}`" not in text]
    assert missing == []
    assert "CAPTURE_WEBHOOK_SECRET_<NAME>" in text


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text()))}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_lands(page):
    broken = []
    for match in LINK.finditer(FENCE.sub("", page.read_text())):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+:", target):
            continue  # another site, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(target)
    assert broken == []


def test_the_public_site_does_not_pick_up_the_handbook():
    config = (ROOT / "mkdocs.yml").read_text()
    docs_dir = re.search(r"^docs_dir:\s*(\S+)", config, re.M)
    assert (docs_dir.group(1) if docs_dir else "docs") == "docs"
    assert not list((ROOT / "docs").rglob("handbook*"))
    assert not (ROOT / ".readme").exists(), "the pictures live in handbook/images/"
