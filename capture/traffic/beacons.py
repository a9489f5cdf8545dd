"""Page-view beacons into daily aggregates: views and unique visitors, and nothing about anyone.

The site's script sends one beacon per page view to `POST /api/views`: the path, the
referrer and the landing URL's UTM values. This module answers it: the origin, the body,
then checks.py (which fields, which pages, which visitors count) and counts.py (the daily
counts and unique visitors, and why no one can be recognised from them).

- One address adds at most CAPTURE_VIEWS_NEW_LIMIT new things a day, new visitors and new counts
  rows alike, kept in the rate limiter's storage (memory or Redis, as CAPTURE_VIEWS_RATELIMIT):
  rotating user agents, referrers or campaigns cannot add unbounded visitors or rows. Past it,
  a view of a row that exists still counts (not as a visitor); one that would make a row does not.
"""
from __future__ import annotations

import logging
from functools import partial
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter
from limits import parse
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from capture.context import current
from capture.core.clock import utcnow
from capture.core.cors import Cors
from capture.core.http import Problem, from_http_error, json_object, read_body, render
from capture.core.ratelimit import Allowance
from capture.core.settings import Settings
from capture.traffic.checks import clean_view, counted, is_bot, on_site
from capture.traffic.counts import count_view

log = logging.getLogger(__name__)
bp = Blueprint("traffic", __name__, url_prefix="/api")

# A real beacon is a few hundred bytes. Every field at its limit, JSON-escaped, still fits.
MAX_BEACON = 8 * 1024
TOO_LARGE = "A page view is at most 8 KiB."
MESSAGES = {429: "Too many page views from your network; they are not counted for a while.", 413: TOO_LARGE}
VIEWS_ADDED = "views-new"  # the limiter storage's keys for what one address added today
# Credentials: sendBeacon always sends them, so a JSON beacon's preflight must allow them.
CORS = Cors(refusal="Views are counted for this site only.", allow_headers="Content-Type", credentials=True)


def init_app(app: Flask, limiter: Limiter, settings: Settings) -> None:
    """Register the beacon endpoint with its own per-IP limit (CAPTURE_VIEWS_RATELIMIT) and allowance."""
    if settings.views_ratelimit:
        # Per limiter (one per app), so many apps in one process can share this blueprint.
        limiter.limit(settings.views_ratelimit, methods=["POST"])(bp)
    app.extensions["capture.views_allowance"] = (
        Allowance(limiter, parse(settings.views_new_limit), settings.ratelimit_prefix, VIEWS_ADDED)
        if settings.views_new_limit else None)
    app.register_blueprint(bp)
    is_bot("warm-up")  # compiles the crawler patterns once per process, not in a visitor's request


# --- the endpoint -------------------------------------------------------------------

@bp.post("/views", provide_automatic_options=False)
def record():
    """Count one page view; 204 whether counted or deliberately not (a bot learns nothing)."""
    check_origin()
    # Checked before the bot test: a body gets the same answer whoever sends it (what the
    # OpenAPI description promises); the crawler list is the dearer test anyway.
    view = on_site(clean_view(parse_beacon()))
    if view is not None and counted(view):
        ext = current()
        allowance = current_app.extensions["capture.views_allowance"]
        try:
            count_view(ext.engine, view, visitor(), utcnow(), ext.settings.timezone,
                       partial(allowance.take, address=request.remote_addr or "") if allowance else None)
        except SQLAlchemyError as exc:
            log.warning("could not count a page view (%s)", type(exc).__name__)
            raise Problem(503, "The view could not be counted just now.") from None
    return no_content()


def check_origin() -> None:
    """A browser's beacon from a site that is not ours (or allowed) is not our traffic."""
    CORS.check(current().settings.allowed_origins)


def parse_beacon() -> dict:
    """The JSON object sent as text/plain (navigator.sendBeacon with a string) or JSON."""
    if request.mimetype != "text/plain" and not request.is_json:
        raise Problem(415, "Send the view as a JSON object, as text/plain or application/json.")
    body = read_body(TOO_LARGE)  # whole, however it is framed, 413 over the API's 64 KiB
    if len(body) > MAX_BEACON:
        raise Problem(413, TOO_LARGE)
    return json_object(body, "The body is not valid JSON.", "The body must be a JSON object.")


def visitor() -> tuple[str, str, str] | None:
    """What tells visitors apart today (IP, user agent, site), or None if they opted out."""
    if "1" in (request.headers.get("Sec-GPC", "").strip(), request.headers.get("DNT", "").strip()):
        return None
    settings = current().settings
    site = urlsplit(settings.site_url or request.host_url).hostname or ""
    return request.remote_addr or "", request.headers.get("User-Agent", ""), site


def no_content():
    """An empty 204 (without the Content-Type Flask adds)."""
    response = current_app.response_class(status=204)
    response.headers.remove("Content-Type")
    return response


# --- answers ------------------------------------------------------------------------

@bp.route("/views", methods=["OPTIONS"])
def preflight():
    """CORS preflight (a beacon sent as application/json from an allowed origin)."""
    return CORS.preflight(current().settings.allowed_origins, no_content())


@bp.after_request
def cors_headers(response):
    """An allowed origin may send beacons; the answers carry nothing to read."""
    return CORS.headers(response, current().settings.allowed_origins)


@bp.errorhandler(Problem)
def problem_response(problem: Problem):
    """Always JSON: a beacon is sent by our script and never shown to anyone."""
    return render(problem)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """The rate limit (429) and Werkzeug's own errors, in the same JSON shape."""
    return render(from_http_error(exc, MESSAGES))
