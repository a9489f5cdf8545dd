"""The marketing site's own page around the pages a visitor opens from a booking email.

Those pages must wear the site's header, menu, footer and style sheets. Copying that markup
would drift whenever the theme or templates/site/ change, so it comes from the one place
it is made: the built site. Its not-found page (404.html) is written by MkDocs with
root-absolute links, because it answers at any path; everything around its content
`<article>` is the shell, with the page's own title, description and robots tags taken out.

Read once per build (the file's modification time is the cache key), never per request.
Without a built site (CAPTURE_SITE_DIR unset) or with one this cannot read, `load` gives
None and the pages use their plain built-in look (templates/booking/base.html).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup

PAGE = "404.html"
SCRIPT = "javascripts/forms.js"  # the site's script: the shell may load it already
# The page's own head tags: each page that wears the shell says its own.
OWN_TAGS = re.compile(r'\s*(?:<title>.*?</title>|<meta\s+name="(?:robots|description)"[^>]*>)', re.S | re.I)
ARTICLE = re.compile(r"<article\b[^>]*>", re.I)
END_ARTICLE = "</article>"
END_HEAD = "</head>"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shell:
    """The built site's page in three parts, to put a title and a content between."""
    head: Markup  # from <!doctype html> into the <head>, without its own title
    top: Markup  # from </head> to the content's opening <article>, inclusive
    bottom: Markup  # from </article> to the end
    has_script: bool  # whether the shell already loads the site's script


def load(site_dir: Path | None) -> Shell | None:
    """The shell of the site built in `site_dir`, or None (no site, or a page this cannot cut)."""
    if site_dir is None:
        return None
    page = site_dir / PAGE
    try:
        stamp = page.stat().st_mtime_ns
    except OSError:
        return None
    return _cut(str(page), stamp)


@lru_cache(maxsize=4)
def _cut(path: str, stamp: int) -> Shell | None:
    """Cut the page at `path` (as it was at `stamp`) into a Shell; None and a warning if it cannot be."""
    text = Path(path).read_text(encoding="utf-8")
    head, found, rest = text.partition(END_HEAD)
    opening = ARTICLE.search(rest) if found else None
    closing = rest.rfind(END_ARTICLE)
    if opening is None or closing < opening.end():
        log.warning("%s: no <head> and content <article> to fit pages into; using the plain look", path)
        return None
    bottom = rest[closing:]
    return Shell(head=Markup(OWN_TAGS.sub("", head)), top=Markup(END_HEAD + rest[:opening.end()]),
                 bottom=Markup(bottom), has_script=SCRIPT in bottom)
