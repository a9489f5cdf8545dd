"""Report keys: the page paths and referring hosts of a lead's attribution, worked out once.

The report (reports/report.py) groups leads by page and referring site and matches them to the page
views traffic/counts.py counts. The keys are worked out here, once per lead, so that no query parses
a URL. (The 0007 migration filled them for older leads with its own copy of these functions.)
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

PATH_MAX = 300  # as page_views.path (traffic.PATH_MAX)
REFERRER_SCAN = 2048  # the host is near the start; a long query string is never parsed whole
HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")  # as a browser serialises it (IDNA applied)


def url_path(url: str | None) -> str | None:
    """The path of a page's URL, as `location.pathname` gives it (what page_views.path holds).

    None for anything that is not an absolute URL or a path of a site: a query and fragment
    never belong to the key (a query can carry anything, an address included).
    """
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:  # a malformed IPv6 literal
        return None
    if parts.path.startswith("/") and not parts.path.startswith("//"):
        return parts.path[:PATH_MAX]
    return "/" if not parts.path and parts.netloc else None


def url_host(url: str | None) -> str | None:
    """The host of a URL as traffic.clean_referrer keeps it (lower case, no port, no final dot).

    `www.` stays, as it does in page_views.referrer_host, so the two match; None for no URL.
    (tests/reports/test_report.py holds the two functions to the same answers.)
    """
    try:
        host = (urlsplit((url or "")[:REFERRER_SCAN].strip()).hostname or "").rstrip(".")
    except ValueError:
        return None
    return host if len(host) <= 253 and HOST.fullmatch(host) else None


def attribution_keys(attribution: dict) -> dict:
    """first_page, last_page, first_referrer_host and last_referrer_host of a lead's attribution.

    A referrer on our own site is no referrer, as in page_views: internal navigation is not a
    source. "Our own" is the host of the lead's landing page and form page (with or without
    `www.`), which is what the visitor's browser was on, whatever the settings say.
    """
    page, landing = attribution.get("page_url"), attribution.get("landing_page")
    own = {_bare(host) for host in (url_host(page), url_host(landing)) if host}

    def referrer(url):
        host = url_host(url)
        return None if host is None or _bare(host) in own else host
    return {"first_page": url_path(landing), "last_page": url_path(page),
            "first_referrer_host": referrer(attribution.get("first_referrer")),
            "last_referrer_host": referrer(attribution.get("referrer"))}


def _bare(host: str) -> str:
    return host.removeprefix("www.")
