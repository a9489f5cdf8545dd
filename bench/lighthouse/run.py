"""Lighthouse on a phone (its default mobile profile) on the built site, served compressed as in production.

    .venv/bin/python bench/lighthouse/run.py [--runs 1]

Builds the site (strict) into a temporary folder with SITE_URL pointing at a local
gzip server (serve.py), then runs the pinned Lighthouse 12.2.3 from this folder's
package-lock.json (`npm ci` here if node_modules is missing) in Debian's chromium
(`apt-get install chromium`; CHROME_PATH overrides /usr/bin/chromium) on four pages:
home, a service page, a blog post and the consultation page, each on Lighthouse's default
phone profile (`--form-factor=mobile`, stated so that a changed default cannot silently turn it
into a desktop run: a 412x823 screen at 1.75x, slow 4G and a 4x slower CPU). Prints any audit that
cost points, then the four category scores per page last: the median of --runs, with the
lowest-highest range when runs differ. Target: 100 everywhere.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import serve  # noqa: E402

PAGES = [("home", ""), ("service", "services/business-site/"),
         ("blog post", "blog/local-seo-guide/"), ("consultation", "consultation/")]
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lighthouse_bin() -> Path:
    """The pinned Lighthouse, installed from package-lock.json when missing."""
    binary = HERE / "node_modules/.bin/lighthouse"
    if not binary.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    return binary


def build_site(out: Path, site_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")}
    env.update(SITE_URL=site_url, NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    subprocess.run([str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(out)],
                   cwd=ROOT, env=env, check=True)


def audit(binary: Path, url: str, report: Path, chrome: str) -> dict:
    """One Lighthouse run: the parsed JSON report."""
    env = dict(os.environ, CHROME_PATH=chrome)
    subprocess.run([str(binary), url, "--quiet", "--output=json", f"--output-path={report}",
                    "--form-factor=mobile", f"--only-categories={','.join(CATEGORIES)}",
                    f"--chrome-flags={CHROME_FLAGS}"],
                   env=env, check=True, timeout=240)
    return json.loads(report.read_text())


def lost_points(result: dict) -> list[str]:
    """Audits that cost points in a report, as 'category: audit (score)'."""
    lines = []
    for cid, category in result["categories"].items():
        for ref in category["auditRefs"]:
            item = result["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and item.get("score") is not None and item["score"] < 1:
                lines.append(f"{cid}: {item['id']} ({item['score']:.2f}) {item.get('displayValue', '')}")
                for detail in (item.get("details") or {}).get("items", [])[:3]:
                    node = detail.get("node") if isinstance(detail, dict) else None
                    if node:
                        lines.append(f"    {node.get('snippet', '')[:120]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per page, median reported (1)")
    parser.add_argument("--save", type=Path, help="keep the JSON reports in this folder")
    args = parser.parse_args()
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not Path(chrome).exists():
        sys.exit(f"{chrome} not found: apt-get install chromium (or set CHROME_PATH)")
    binary = lighthouse_bin()
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    scores: dict[str, dict[str, list[int]]] = {}
    with tempfile.TemporaryDirectory(prefix="fernleaf-lh-") as tmp:
        build_site(Path(tmp) / "site", base)
        server = serve.start(Path(tmp) / "site", port)
        try:
            for name, path in PAGES:
                scores[name] = {c: [] for c in CATEGORIES}
                for run in range(args.runs):
                    report = (args.save or Path(tmp)) / f"{name.replace(' ', '-')}-{run + 1}.json"
                    report.parent.mkdir(parents=True, exist_ok=True)
                    result = audit(binary, base + path, report, chrome)
                    for c in CATEGORIES:
                        scores[name][c].append(round(result["categories"][c]["score"] * 100))
                    for line in lost_points(result):
                        print(f"  {name} run {run + 1}: {line}")
        finally:
            server.shutdown()
    version = json.loads((HERE / "node_modules/lighthouse/package.json").read_text())["version"]
    print(f"\nLighthouse {version}, phone profile (mobile), site served gzipped from 127.0.0.1; "
          f"median of {args.runs} run(s)")
    print(f"{'page':14s} {'performance':>12s} {'accessibility':>14s} {'best practices':>15s} {'SEO':>8s}")
    for name, by_cat in scores.items():
        cells = []
        for c, width in zip(CATEGORIES, (12, 14, 15, 8)):
            low, high = min(by_cat[c]), max(by_cat[c])
            spread = f" ({low}-{high})" if low != high else ""
            cells.append(f"{statistics.median(by_cat[c]):.0f}{spread}".rjust(width))
        print(f"{name:14s} {' '.join(cells)}")


if __name__ == "__main__":
    main()
