"""Page-view beacons into daily aggregates: views and unique visitors, and nothing about anyone.

The site's script sends one beacon per page view to `POST /api/views`: the path, the
referrer and the landing URL's UTM values. What is kept is one counts row per day, path,
referring host and campaign (`page_views`): how many views and how many different visitors.

Unique visitors without identifiers (the approach Plausible documents): a visitor is
HMAC-SHA256(today's random salt, IP address | user agent | site | the counts row). Several
processes must agree on "already counted today", so the keys live in `daily_visitors`
(day, key) with a unique key, not in one process's memory. Why this keeps the promise that
no IP address, user agent or hash is stored next to the counts, and that yesterday's
visitors cannot be recognised:
- `page_views` holds the counts and the page/referrer/campaign only; the key is in another
  table, and nothing joins the two (a key names no row, a row names no key).
- The salt is 32 random bytes made on the first view of the day (`daily_salts`), never
  derived from anything. When the next day's salt is made, every older salt and every older
  key is deleted in the same transaction; the daily retention run (privacy.py) deletes any
  that outlived their day because no beacon came. Without the salt a key cannot be
  recomputed from an IP address and user agent, so an old key, wherever it survived, matches
  nobody; and tomorrow the same person gets a different key.
- Within the day, someone holding the database (or a backup taken that day) and a guessed
  IP address and user agent could test whether that person viewed a given page today: the
  same exposure as Plausible's in-memory salt, for at most a day (plus backup retention).
- `Sec-GPC: 1` or `DNT: 1`: the view counts, no key is computed, the visitor is not counted.

What strangers can add is bounded, because every beacon is a stranger's claim:
- Only the site's own pages are counted: the site build lists them (sitepaths.py), and a beacon
  for any other path answers 204 like any other but stores nothing. (Without a list, set by
  neither CAPTURE_SITE_PATHS nor CAPTURE_SITE_DIR, any path of the right shape counts.)
- One address adds at most CAPTURE_VIEWS_NEW_LIMIT new things a day, new visitors and new counts
  rows alike, kept in the rate limiter's storage (memory or Redis, as CAPTURE_VIEWS_RATELIMIT):
  rotating user agents, referrers or campaigns cannot add unbounded visitors or rows. Past it,
  a view of a row that exists still counts (not as a visitor); one that would make a row does not.

The day is the business's (CAPTURE_TIMEZONE), as everywhere the report shows days: a
"visitor today" there is one salt's lifetime here. Times come from `utcnow()` (tests inject it).
"""
from __future__ import annotations

import hmac
import logging
import re
import secrets
from dataclasses import astuple, dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import partial
from hashlib import sha256
from typing import Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import crawleruseragents
from flask import Blueprint, Flask, current_app, json, jsonify, request
from flask_limiter import Limiter
from limits import parse
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from capture.intake.api import CORS_MAX_AGE, Problem, origin_allowed, read_body, request_origin
from capture.core.clock import utcnow
from capture.core.settings import Settings
from capture.db.models import daily_salts, daily_visitors, page_views
from capture.core.ratelimit import Allowance
from capture.core.sitepaths import page_of
from capture.db.engine import writing
from capture.db.report_keys import url_host
from capture.context import current

log = logging.getLogger(__name__)
bp = Blueprint("traffic", __name__, url_prefix="/api")

# A real beacon is a few hundred bytes. Every field at its limit, JSON-escaped, still fits.
MAX_BEACON = 8 * 1024
TOO_LARGE = "A page view is at most 8 KiB."
PATH_MAX, UTM_MAX = 300, 100
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
# What `location.pathname` holds: RFC 3986 path characters (anything else is percent-encoded).
# Bots cannot store arbitrary text: no spaces, controls, backslashes or non-ASCII.
PATH_CHARS = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
# A host as browsers serialise it in document.referrer (IDNA already applied).
USER_AGENT_SCAN = 512  # real ones are shorter; the crawler patterns' cost grows with the length
# The team's pages (the desk, one-click links) and the API are not the site's traffic.
NOT_COUNTED = ("/desk/", "/actions/", "/api/")
# Prefetch and prerender requests (Chrome, Firefox, Safari's previews); a prerendered page's
# own beacon carries `Sec-Purpose: prefetch;prerender` until someone actually opens it.
PURPOSE_HEADERS = ("Sec-Purpose", "Purpose", "X-Purpose", "X-Moz")
PREFETCH_WORDS = ("prefetch", "prerender", "preview")
KEY_LENGTH = 32  # hex digits of the HMAC: 128 bits, no collision at any site's volume
ROW = ("day", "path", "referrer_host", *UTM_FIELDS)  # the counts row's unique key
VIEWS_ADDED = "views-new"  # the limiter storage's keys for what one address added today


@dataclass(frozen=True)
class View:
    """One page view, cleaned: what a counts row is keyed by (besides the day)."""
    path: str
    referrer_host: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""


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
    origin = request_origin()
    if origin is not None and not origin_allowed(origin):
        raise Problem(403, "Views are counted for this site only.")


def parse_beacon() -> dict:
    """The JSON object sent as text/plain (navigator.sendBeacon with a string) or JSON."""
    if request.mimetype != "text/plain" and not request.is_json:
        raise Problem(415, "Send the view as a JSON object, as text/plain or application/json.")
    try:
        body = read_body()  # the API's: whole, however it is framed, 413 over 64 KiB
    except Problem as problem:
        raise Problem(413, TOO_LARGE) if problem.status == 413 else problem from None
    if len(body) > MAX_BEACON:
        raise Problem(413, TOO_LARGE)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Problem(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Problem(400, "The body must be a JSON object.")
    return data


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
    if not value.isprintable():  # controls, line breaks, invisible and bidi characters
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


def visitor() -> tuple[str, str, str] | None:
    """What tells visitors apart today (IP, user agent, site), or None if they opted out."""
    if "1" in (request.headers.get("Sec-GPC", "").strip(), request.headers.get("DNT", "").strip()):
        return None
    settings = current().settings
    site = urlsplit(settings.site_url or request.host_url).hostname or ""
    return request.remote_addr or "", request.headers.get("User-Agent", ""), site


def no_content():
    response = current_app.response_class(status=204)
    response.headers.remove("Content-Type")
    return response


# --- counting -----------------------------------------------------------------------

def count_view(engine: Engine, view: View, who: tuple[str, str, str] | None, now: datetime,
               tz: ZoneInfo, allowance: Callable[[date], bool] | None = None) -> bool:
    """Add one view to today's row, and one visitor if `who` is new today for that row.

    One transaction: the salt (made if it is the day's first view), the visitor's key, the
    counts upsert. `allowance(day)` is asked before anything new is added (a visitor, a row):
    when it says no, a view of an existing row counts without the visitor, and a view that
    would make a row is not stored at all. Returns whether a visitor was added.
    """
    day = now.astimezone(tz).date()
    row = {"day": day, **dict(zip(ROW[1:], astuple(view)))}
    with writing(engine) as conn:
        key = visitor_key(todays_salt(conn, day, tz), who, view) if who is not None else None
        new = key is not None and not _exists(conn, daily_visitors, day=day, key=key)
        new_row = allowance is not None and not _exists(conn, page_views, **row)
        if allowance is not None and (new or new_row) and not allowance(day):
            if new_row:
                return False  # nothing stored: no row, no key
            new = False  # the view counts in its row; this visitor, new to it today, does not
        if new:
            first = (_insert(conn, daily_visitors).values(day=day, key=key).on_conflict_do_nothing()
                     .returning(daily_visitors.c.day))
            new = conn.execute(first).first() is not None  # None: counted a moment ago by another process
        upsert = _insert(conn, page_views).values(**row, views=1, visitors=int(new))
        conn.execute(upsert.on_conflict_do_update(index_elements=list(ROW), set_={
            "views": page_views.c.views + 1, "visitors": page_views.c.visitors + int(new)}))
    return new


def _exists(conn: Connection, table, **equal) -> bool:
    """Whether a row with these values exists (a unique index finds it)."""
    found = select(table.c[next(iter(equal))]).where(*(table.c[k] == v for k, v in equal.items())).limit(1)
    return conn.execute(found).first() is not None


def visitor_key(salt: str, who: tuple[str, str, str], view: View) -> str:
    """HMAC-SHA256 keyed by the day's salt over the visitor and the counts row they viewed."""
    message = "\x1f".join((*who, *astuple(view)))
    return hmac.new(salt.encode(), message.encode(), sha256).hexdigest()[:KEY_LENGTH]


def todays_salt(conn: Connection, day: date, tz: ZoneInfo) -> str:
    """The day's salt; made by the day's first view (whichever process), deleting all older ones.

    Race-safe: the day is the primary key, so of two processes making it at once one inserts
    and the other (its insert doing nothing) reads the winner's.
    """
    salt = conn.execute(select(daily_salts.c.salt).where(daily_salts.c.day == day)).scalar()
    if salt is not None:
        return salt
    salt = secrets.token_hex(32)
    made = conn.execute(_insert(conn, daily_salts).values(
        day=day, salt=salt, expires_at=end_of_day(day, tz)).on_conflict_do_nothing()
        .returning(daily_salts.c.day)).first()
    if made is None:
        return conn.execute(select(daily_salts.c.salt).where(daily_salts.c.day == day)).scalar_one()
    # A new day: yesterday's salt and keys go now, so nobody can recognise yesterday's visitors.
    # (A view stamped just before midnight and written just after may still add a key for
    # yesterday, or even a fresh salt for it: random, so it recognises nobody from before, and
    # its day is over, so the next day's first view or the retention run deletes both.)
    conn.execute(delete(daily_visitors).where(daily_visitors.c.day < day))
    conn.execute(delete(daily_salts).where(daily_salts.c.day < day))
    return salt


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The moment the business day ends (its next midnight), for the retention run's backstop."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def _insert(conn: Connection, table):
    """INSERT with ON CONFLICT (SQLite and PostgreSQL spell it alike; SQLAlchemy has one per dialect).

    Whether a row was inserted is read from RETURNING (SQLite 3.35+): psycopg's rowcount is
    gone (-1) once SQLAlchemy has closed the cursor of a statement without rows.
    """
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# --- answers ------------------------------------------------------------------------

@bp.route("/views", methods=["OPTIONS"])
def preflight():
    """CORS preflight (a beacon sent as application/json from an allowed origin)."""
    origin = request_origin()
    if origin is None or not origin_allowed(origin):
        raise Problem(403, "Views are counted for this site only.")
    response = no_content()
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


@bp.after_request
def cors_headers(response):
    """An allowed origin may send beacons; sendBeacon always includes credentials."""
    origin = request_origin()
    if origin is not None and origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        # Needed for a JSON beacon's preflight to pass; the answers carry nothing to read.
        response.headers["Access-Control-Allow-Credentials"] = "true"
    response.vary.add("Origin")
    return response


@bp.errorhandler(Problem)
def problem_response(problem: Problem):
    """Always JSON: a beacon is sent by our script and never shown to anyone."""
    body = {"errors": problem.errors} if problem.errors else {"error": problem.message}
    return jsonify(body), problem.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """The rate limit (429) and Werkzeug's own errors, in the same JSON shape."""
    messages = {429: "Too many page views from your network; they are not counted for a while.",
                413: TOO_LARGE}
    response = jsonify(error=messages.get(exc.code, exc.description))
    response.status_code = exc.code or 500
    for name in ("Retry-After", "Allow"):
        if exc.get_response().headers.get(name):
            response.headers[name] = exc.get_response().headers[name]
    return response
