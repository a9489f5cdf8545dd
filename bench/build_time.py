"""Build time of the site with 200 extra posts: this project's configuration vs bare Material.

    .venv/bin/python bench/build_time.py [--posts 200] [--runs 3]

Copies the site sources into a temporary folder, generates the posts there
(the repository is not touched), then builds, alternately and in the same run:

  project  this repository's mkdocs.yml (blog, rss, macros with the forms, theme overrides)
  bare     Material with only its blog plugin: `theme: material`, `plugins: [blog]`
  default  Material's defaults plus the blog: `plugins: [search, blog]` (MkDocs enables search
           when no plugins are listed; this site has no search)

on the same pages. Each build is a fresh `mkdocs build` process (start-up included), the two
alternating. Both the wall-clock time and the CPU time (user + system of the build process)
are measured. On a shared machine other work only ever adds time, so the fastest of --runs
is the best estimate of each build's own cost: the ratio is taken from the fastest CPU times,
and the medians are printed beside it. Figures are printed last; the target (ratio ≤ 1.10)
is against `bare`, the stricter of the two baselines.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's package is beside bench/
from capture.sitebuild import copy_site_inputs  # noqa: E402

MKDOCS = Path(sys.executable).with_name("mkdocs")
BARE_CONFIG = """site_name: Fernleaf Studio
site_url: http://127.0.0.1:8000/
theme:
  name: material
plugins:
  - blog
"""
WORDS = ("website customers local search page phone design enquiry business small shop price "
         "review speed content visitor booking service town quote marketing sales plan team "
         "photo copy launch owner trust question answer guide mobile form list").split()
CATEGORIES = ["Getting started", "Marketing", "Local SEO", "Pricing", "Design"]
AUTHORS = ["megan", "daniel", "ellie", "sian"]


def sentence(rng: random.Random, n: int = 14) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(8, 20)) for _ in range(rng.randint(3, 6)))


def post(i: int, rng: random.Random) -> str:
    """One generated post of about 700 words, shaped like the real ones."""
    created = date(2024, 1, 1) + timedelta(days=i)
    body = [f"# Generated post number {i}", "", paragraph(rng), "", "<!-- more -->", ""]
    for section in range(4):
        body += [f"## Section {section + 1}: {sentence(rng, 5)[:-1]}", "", paragraph(rng), "",
                 *(f"- {sentence(rng, 8)}" for _ in range(4)), "", paragraph(rng), ""]
    front = (f"---\ntitle: Generated post number {i}\ndescription: {sentence(rng, 18)}\n"
             f"date:\n  created: {created}\n  updated: {created}\n"
             f"authors:\n  - {rng.choice(AUTHORS)}\ncategories:\n  - {rng.choice(CATEGORIES)}\n"
             f"slug: generated-{i:03d}\n---\n\n")
    return front + "\n".join(body)


def make_projects(base: Path, posts: int) -> tuple[Path, Path, Path]:
    """Three copies of the site sources with the same generated posts: project, bare, default."""
    project = copy_site_inputs(base / "project")
    rng = random.Random(4)
    for i in range(posts):
        (project / "docs/blog/posts" / f"generated-{i:03d}.md").write_text(post(i, rng))
    bare = base / "bare"
    bare.mkdir()
    shutil.copytree(project / "docs", bare / "docs")
    # Material alone has no landing-page template: the home page becomes a plain page.
    index = bare / "docs/index.md"
    index.write_text(index.read_text().replace("template: home.html\n", ""))
    (bare / "mkdocs.yml").write_text(BARE_CONFIG)
    default = base / "default"
    shutil.copytree(bare, default)
    (default / "mkdocs.yml").write_text(BARE_CONFIG.replace("  - blog\n", "  - search\n  - blog\n"))
    return project, bare, default


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(project: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for one `mkdocs build` of `project` (a fresh process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")}
    env.update(NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    cpu, start = cpu_of_children(), time.perf_counter()
    result = subprocess.run([str(MKDOCS), "build", "--quiet", "--site-dir", str(project / "site")],
                            cwd=project, env=env, capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - start, cpu_of_children() - cpu
    if result.returncode != 0:
        sys.exit(f"build of {project.name} failed:\n{result.stderr[-3000:]}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200, help="generated posts to add (200)")
    parser.add_argument("--runs", type=int, default=7, help="builds of each (7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fernleaf-build-") as tmp:
        builds = dict(zip(("project", "bare", "default"), make_projects(Path(tmp), args.posts)))
        for where in builds.values():
            build(where)  # warm the file cache and Python's bytecode
        times = {name: [] for name in builds}
        for run in range(args.runs):
            for name, where in builds.items():
                times[name].append(build(where))
            print(f"run {run + 1}: " + ", ".join(
                f"{name} {t[-1][0]:.2f} s ({t[-1][1]:.2f} s CPU)" for name, t in times.items()), flush=True)
        project = builds["project"]
        pages = sum(1 for _ in (project / "site").rglob("*.html"))
    best = {k: (min(t[0] for t in v), min(t[1] for t in v)) for k, v in times.items()}
    mid = {k: (statistics.median(t[0] for t in v), statistics.median(t[1] for t in v))
           for k, v in times.items()}
    print(f"\nposts: {len(list((ROOT / 'docs/blog/posts').glob('*.md')))} real + {args.posts} generated"
          f" ({pages} HTML pages in the project build); {args.runs} runs each, alternating")
    labels = {"project": "this project's configuration    ", "bare": "bare Material (blog only)       ",
              "default": "Material defaults (search, blog)"}
    for name, label in labels.items():
        print(f"{label}: fastest {best[name][0]:.2f} s wall / {best[name][1]:.2f} s CPU;"
              f" median {mid[name][0]:.2f} s wall / {mid[name][1]:.2f} s CPU")
    for name in ("bare", "default"):
        print(f"ratio project/{name} (CPU): fastest {best['project'][1] / best[name][1]:.3f}, "
              f"median {mid['project'][1] / mid[name][1]:.3f}" + ("   (target <= 1.10)" if name == "bare" else ""))


if __name__ == "__main__":
    main()
