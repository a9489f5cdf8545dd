"""The site's page titles, read from the built site, so the report can say "Website packages and prices" for /services/.

The titles are the build's own: each listed page's `og:title` (Material writes the page title
there without the site's name), else its `<title>`. Read once per build (the page list's
modification time is the cache key), never per request; without a built site
(CAPTURE_SITE_DIR unset) there are no titles and the report shows the paths.
"""
from __future__ import annotations

import html
import logging
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from capture.core import sitepaths

HEAD_BYTES = 16_384  # the titles sit in the head, well within this
OG_TITLE = re.compile(r'<meta\s+property="og:title"\s+content="([^"]*)"', re.I)
TITLE = re.compile(r"<title>(.*?)</title>", re.I | re.S)
log = logging.getLogger(__name__)


def titles(site_dir: Path | None) -> dict[str, str]:
    """{path: title} for the built site's pages (as `location.pathname` gives them); {} without one."""
    if site_dir is None:
        return {}
    listed = site_dir / sitepaths.FILE_NAME
    try:
        stamp = listed.stat().st_mtime_ns
    except OSError:
        return {}
    return _read(site_dir, stamp)


def title_of(path: str, found: dict[str, str]) -> str:
    """The page's title, or its path when the site has no title for it."""
    return found.get(path) or path


@lru_cache(maxsize=4)
def _read(site_dir: Path, stamp: int) -> dict[str, str]:
    try:
        pages = sitepaths.load(site_dir / sitepaths.FILE_NAME)
    except ValueError as exc:
        log.warning("page titles: %s", exc)
        return {}
    found = {}
    for path in pages:
        relative = unquote(path).lstrip("/")
        page = site_dir / relative / "index.html" if path.endswith("/") else site_dir / relative
        try:
            with page.open("rb") as f:
                head = f.read(HEAD_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        title = _title(head)
        if title:
            found[path] = title
    return found


def _title(head: str) -> str:
    match = OG_TITLE.search(head) or TITLE.search(head)
    return " ".join(html.unescape(match.group(1)).split()) if match else ""
