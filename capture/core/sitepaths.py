"""The site's page paths: listed by the site build, read by the service to count only real pages.

After MkDocs has written the site, the build (capture/sitebuild.py) lists every HTML page in
the output folder as `location.pathname` gives it (`/`, `/services/`, `/blog/archive/2026/`)
into `site-paths.json` next to them. The service reads that list once at start
(CAPTURE_SITE_PATHS, or the file in CAPTURE_SITE_DIR) and stores a page-view beacon only for
a path on it (traffic/beacons.py): anyone can send a beacon for any path, and each made-up one would
be a new row of the view counts.

Standard library only: the site build loads this file without Flask (sitebuild.sibling).
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

FILE_NAME = "site-paths.json"
# The not-found page answers at every unknown path (nginx, `make serve`), so a beacon from it
# carries the unknown path, not this one; its own address is never a page anyone reads.
NOT_PAGES = frozenset({"404.html"})
# What `location.pathname` leaves as it is (RFC 3986 path characters); the rest is percent-encoded.
PATH_SAFE = "/!$&'()*+,;=:@~"


def page_paths(site_dir: Path, base: str = "") -> list[str]:
    """Every HTML page of a built site as its pathname, sorted; `base` is the site URL's path (`/docs`)."""
    found = set()
    for html in site_dir.rglob("*.html"):
        relative = html.relative_to(site_dir).as_posix()
        if relative in NOT_PAGES:
            continue
        folder, _, name = relative.rpartition("/")
        page = f"{folder}/" if name == "index.html" and folder else "" if name == "index.html" else relative
        found.add(quote(f"{base.rstrip('/')}/{page}", safe=PATH_SAFE))
    return sorted(found)


def write(site_dir: Path, base: str = "") -> Path:
    """Write the list into the built site; returns the file."""
    target = site_dir / FILE_NAME
    target.write_text(json.dumps({"pages": page_paths(site_dir, base)}, indent=1) + "\n", encoding="utf-8")
    return target


def load(path: Path) -> frozenset[str]:
    """The list written by `write`; ValueError naming what is wrong (read at start, never per request)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read '{path}' ({exc.strerror or type(exc).__name__})") from None
    except ValueError:
        raise ValueError(f"'{path}' is not JSON; rebuild the site (make site)") from None
    pages = data.get("pages") if isinstance(data, dict) else None
    if not isinstance(pages, list) or not pages or not all(isinstance(p, str) and p.startswith("/")
                                                          for p in pages):
        raise ValueError(f"'{path}' has no list of pages; rebuild the site (make site)")
    return frozenset(pages)


def page_of(path: str, pages: frozenset[str]) -> str | None:
    """The listed page a beacon's path is (as listed), or None when the site has no such page.

    `/services/index.html` and `/services` are `/services/` (the server answers both with that
    page); a path is compared percent-encoded as browsers send it, whichever escapes it used.
    """
    path = quote(unquote(path), safe=PATH_SAFE)
    candidates = [path]
    if path.endswith("/index.html"):
        candidates.append(path.removesuffix("index.html"))
    elif not path.endswith("/"):
        candidates.append(f"{path}/")
    return next((page for page in candidates if page in pages), None)
