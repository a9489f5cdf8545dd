"""What a beacon may say and which views count: clean fields, the site's own pages, no bots.

What strangers can add is bounded, because every beacon is a stranger's claim:
- Only the site's own pages are counted: the site build lists them (sitepaths.py), and a beacon
  for any other path answers 204 like any other but stores nothing. (Without a list, set by
  neither CAPTURE_SITE_PATHS nor CAPTURE_SITE_DIR, any path of the right shape counts.)
- One address adds a bounded number of new visitors and rows a day (beacons.py).
"""
from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

import crawleruseragents
from flask import request

from capture.context import current
from capture.core.http import Problem
from capture.core.sitepaths import page_of
from capture.db.report_keys import url_host
from capture.schema import characters as chars
from capture.traffic.counts import UTM_FIELDS, View

PATH_MAX, UTM_MAX = 300, 100
# What `location.pathname` holds: RFC 3986 path characters (anything else is percent-encoded).
# Bots cannot store arbitrary text: no spaces, controls, backslashes or non-ASCII.
PATH_CHARS = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
# Controls, line breaks, invisible and bidi characters: what no single line of text may hold
# (capture/schema/characters.py, which the API description's patterns use too).
UNPRINTABLE = re.compile(f"[{chars.CONTROLS}{chars.SURROGATES}{chars.LINE_BREAKS}{chars.BIDI_CONTROLS}"
                         f"{chars.INVISIBLE}]")
# A host as browsers serialise it in document.referrer (IDNA already applied).
USER_AGENT_SCAN = 512  # real ones are shorter; the crawler patterns' cost grows with the length
# The team's pages (the desk, one-click links) and the API are not the site's traffic.
NOT_COUNTED = ("/desk/", "/actions/", "/api/")
# Prefetch and prerender requests (Chrome, Firefox, Safari's previews); a prerendered page's
# own beacon carries `Sec-Purpose: prefetch;prerender` until someone actually opens it.
PURPOSE_HEADERS = ("Sec-Purpose", "Purpose", "X-Purpose", "X-Moz")
PREFETCH_WORDS = ("prefetch", "prerender", "preview")


def clean_view(data: dict) -> View:
    """The known fields, checked (400 naming each bad one); every other key is ignored."""
    errors, utm = {}, {}
    path = _checked(errors, "path", clean_path, data.get("path"))
    referrer = _checked(errors, "referrer", clean_referrer, data.get("referrer"))
    for name in UTM_FIELDS:
        utm[name] = _checked(errors, name, clean_utm, data.get(name))
    if errors:
        raise Problem(400, "The view was not counted.", errors)
    return View(path, referrer, **utm)


def _checked(errors: dict, name: str, clean, raw):
    try:
        return clean(raw)
    except ValueError as exc:
        errors[name] = str(exc)
        return ""


def clean_path(raw) -> str:
    """A path of this site, as `location.pathname` gives it; a query or fragment is cut off.

    The query goes because the UTM values come separately and a query can carry anything,
    a visitor's address included; the fragment never reaches a server anyway.
    """
    if not isinstance(raw, str) or not raw:
        raise ValueError("send the page's path (location.pathname), such as /services/.")
    if len(raw) > PATH_MAX:
        raise ValueError(f"at most {PATH_MAX} characters.")
    path = raw.partition("#")[0].partition("?")[0]
    if not path.startswith("/") or path.startswith("//") or "://" in path:
        raise ValueError("a path of this site: starting with one /, with no scheme or host.")
    if not PATH_CHARS.fullmatch(path):
        raise ValueError("only the characters of a URL path (percent-encode the others).")
    return path


def clean_referrer(raw) -> str:
    """The referring site's host (lower case, no port), or '' for none, ours or unreadable.

    Only the host is kept: a referrer's path and query can name a person. Internal
    navigation is not a source, so our own hosts count as no referrer; anything that is not
    a URL with a host is treated as no referrer too (a view is never lost for a hint).
    """
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise ValueError("send document.referrer (text), or leave it out.")
    host = url_host(raw)  # the one host rule, shared with the leads' attribution keys
    if host is None or _bare(host) in own_hosts():
        return ""
    return host


def clean_utm(raw) -> str:
    """A UTM value as the link had it: case kept (as Plausible and our leads keep it), trimmed."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ValueError("send the landing URL's value as text, or leave it out.")
    if len(raw) > UTM_MAX:
        raise ValueError(f"at most {UTM_MAX} characters.")
    value = raw.strip()
    if UNPRINTABLE.search(value):
        raise ValueError("printable text only.")
    return value


def own_hosts() -> set[str]:
    """This site's hosts: the request's, and those of CAPTURE_SITE_URL, _PUBLIC_URL, _ALLOWED_ORIGINS."""
    settings = current().settings
    urls = (request.host_url, settings.site_url, settings.public_url, *settings.allowed_origins)
    return {_bare(urlsplit(url).hostname or "") for url in urls if url}


def _bare(host: str) -> str:
    # www.fernleaf.example and fernleaf.example are one site: moving between them is not a referral.
    return host.removeprefix("www.")


def on_site(view: View) -> View | None:
    """The view with its path as the site lists it (`/services` is `/services/`); None if not a page of the site.

    Without a list (CAPTURE_SITE_PATHS, CAPTURE_SITE_DIR) every path is taken as it came.
    """
    pages = current().settings.site_pages
    if pages is None:
        return view
    page = page_of(view.path, pages)
    return replace(view, path=page) if page is not None else None


def counted(view: View) -> bool:
    """Not a team page, not a bot or crawler, not a prefetch."""
    if view.path == "/desk" or view.path.startswith(NOT_COUNTED):
        return False
    return not is_bot(request.headers.get("User-Agent", "")) and not is_prefetch()


def is_bot(user_agent: str) -> bool:
    """No user agent, or one on the maintained crawler-user-agents list (1,500 patterns).

    Checked on every beacon (about half a millisecond) rather than cached: a cache would keep
    user agents in memory, and the database write costs more anyway.
    """
    return not user_agent.strip() or crawleruseragents.is_crawler(user_agent[:USER_AGENT_SCAN])


def is_prefetch() -> bool:
    purposes = " ".join(request.headers.get(name, "") for name in PURPOSE_HEADERS).lower()
    return any(word in purposes for word in PREFETCH_WORDS)
