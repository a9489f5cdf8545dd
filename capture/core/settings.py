"""Reading and checking settings: defaults, then `.env`, then CAPTURE_* variables.

Every setting is parsed once at start; a bad one raises ConfigError whose
message is one line naming the variable, so an operator never meets a
traceback (or a surprise at the first request).
"""
from __future__ import annotations

import base64
import binascii
import difflib
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email.headerregistry import Address
from email.utils import parseaddr

from dotenv import dotenv_values
from email_validator import EmailNotValidError, validate_email
from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from capture.core import sitepaths
from capture.core.durations import parse_duration

PREFIX = "CAPTURE_"
MAIL_SCHEMES = ("smtp", "smtp+starttls", "smtps", "file", "console")
DEFAULTS = {
    "DATABASE_URL": "sqlite:///var/capture.db",
    "MAIL_URL": "file:var/mail",
    "MAIL_FROM": "Fernleaf Studio leads <leads@fernleaf.example>",
    "SECRET_KEY": "",
    "ALLOWED_ORIGINS": "",
    "FORMS": "forms.yml",
    "SALES": "sales.yml",
    "PUBLIC_URL": "http://127.0.0.1:8000",
    "RATELIMIT": "10 per minute;100 per day",
    "RATELIMIT_STORAGE": "memory://",
    "RATELIMIT_PREFIX": "capture",
    # Per IP, on submissions that book a time (a slot) only, besides RATELIMIT: a person books one
    # consultation; a household or office a few; a script emptying the calendar is cut off.
    "BOOKING_RATELIMIT": "3 per hour;10 per day",
    # More bookings than this in one hour is unusual for a studio of our size: the managers get one
    # email that hour (surge.py). 0 turns it off.
    "BOOKING_ALERT": "5",
    # Page-view beacons (traffic.py), per IP: a person reads a page or two a minute; a fast
    # reader who opens tabs does tens; a script filling the table is cut off.
    "VIEWS_RATELIMIT": "120 per minute",
    # What one IP may add to the counts in a day: new visitors and new counts rows (a new page,
    # referrer or campaign of the day). An office or a household is a few tens; a script rotating
    # user agents or made-up campaigns is cut off there, its views of known rows still counted.
    "VIEWS_NEW_LIMIT": "300 per day",
    # The list of the site's pages the site build writes (site/site-paths.json): beacons for
    # other paths are not stored. Empty: the one in CAPTURE_SITE_DIR if set, else every path counts.
    "SITE_PATHS": "",
    "SITE_URL": "",
    "SITE_DIR": "",
    "TRUSTED_PROXIES": "0",
    "TIMEZONE": "Europe/London",
    "AUTO_MIGRATE": "1",
    "EMBEDDED_WORKER": "0",
    "DIGEST": "1",
    "MAIL_TIMEOUT": "30s",
    "MAIL_LEASE": "5m",
    "MAIL_RETRY_FIRST": "5s",
    "MAIL_RETRY_MAX": "4h",
    "MAIL_GIVE_UP": "24h",
    "WORKER_POLL": "0.5s",
    "WORKER_THREADS": "2",
    "CONFIRMATIONS_PER_DAY": "3",
    # Retention (privacy.py), as docs/privacy.md states it (a test keeps the two the same).
    "KEEP_SPAM": "30d",
    "KEEP_ENQUIRIES": "730d",
    "KEEP_CLIENTS": "2192d",
    "KEEP_MESSAGES": "90d",
    "KEEP_PAGE_VIEWS": "1096d",
    "HEALTH_TOKEN": "",
}
# CAPTURE_* names read by other parts than these settings: the site build, the
# tests, and the switch for `.env` itself.
READ_ELSEWHERE = frozenset({"API_URL", "DOTENV", "REQUIRE_SERVICES", "TEST_DATABASE_URL",
                            "TEST_NOW", "TEST_REDIS_URL"})
# One per webhook endpoint of sales.yml: CAPTURE_WEBHOOK_SECRET_CRM for the endpoint `crm`.
WEBHOOK_SECRET = "WEBHOOK_SECRET_"
WEBHOOK_SECRET_RE = re.compile(r"whsec_([A-Za-z0-9+/]+={0,2})")
WEBHOOK_SECRET_BYTES = (24, 64)  # what the Standard Webhooks specification asks of a secret


class ConfigError(ValueError):
    """A setting is missing or malformed; str() is one line naming it."""


@dataclass(frozen=True)
class MailSettings:
    scheme: str
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""
    path: str = ""

    def describe(self) -> str:
        """Where mail goes, for the start-up line (never shows the password)."""
        if self.scheme == "file":
            return f"written as .eml files to {self.path}/"
        if self.scheme == "console":
            return "printed to the console"
        return f"sent via {self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class DeliverySettings:
    """How the mail worker behaves; every time is in seconds."""
    smtp_timeout: float = 30.0
    lease: float = 300.0
    retry_first: float = 5.0
    retry_max: float = 4 * 3600.0
    give_up: float = 24 * 3600.0
    poll: float = 0.5
    threads: int = 2
    confirmations_per_day: int = 3


@dataclass(frozen=True)
class Retention:
    """How long things are kept (docs/privacy.md says the same)."""
    spam: timedelta
    enquiries: timedelta  # after the last contact, for an enquiry that did not become work
    clients: timedelta  # after the last change, for a won lead
    messages: timedelta  # a sent message's recipient and error text
    page_views: timedelta  # the daily visit counts (traffic.py): no personal data, kept for the report


@dataclass(frozen=True)
class Settings:
    database_url: str
    mail: MailSettings
    mail_from: Address
    secret_key: str
    allowed_origins: frozenset[str]
    forms_path: Path
    sales_path: Path
    public_url: str
    ratelimit: str
    ratelimit_storage: str
    ratelimit_prefix: str
    site_url: str
    site_dir: Path | None
    trusted_proxies: int
    timezone: ZoneInfo
    auto_migrate: bool
    embedded_worker: bool
    digest: bool  # the worker queues the weekly digest (digest.py) on Mondays
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    health_token: str = ""
    views_ratelimit: str = DEFAULTS["VIEWS_RATELIMIT"]
    views_new_limit: str = DEFAULTS["VIEWS_NEW_LIMIT"]
    site_pages: frozenset[str] | None = None  # None: no list, every path of the site's shape counts
    booking_ratelimit: str = DEFAULTS["BOOKING_RATELIMIT"]
    booking_alert: int = int(DEFAULTS["BOOKING_ALERT"])  # bookings in an hour beyond which managers are told
    retention: Retention | None = None
    webhook_secrets: dict[str, str] = field(default_factory=dict)  # endpoint name -> whsec_…
    warnings: tuple[str, ...] = ()


def load_settings(overrides: dict | None = None, environ=None) -> Settings:
    """Merge defaults, .env, the environment and `overrides`; check each value.

    `.env` in the working directory is read unless CAPTURE_DOTENV=0 (the tests
    set it, so a developer's own `.env` never changes what they test).
    """
    raw = dict(DEFAULTS)
    environ = os.environ if environ is None else environ
    switch = environ.get(f"{PREFIX}DOTENV", os.environ.get(f"{PREFIX}DOTENV", "1"))
    if _flag("DOTENV", switch) and Path(".env").is_file():
        raw.update(_prefixed(dotenv_values(".env")))
    raw.update(_prefixed(environ))
    raw.update({k.upper(): str(v) for k, v in (overrides or {}).items()})
    site_dir = _site_dir(raw["SITE_DIR"])
    site_pages, pages_warning = _site_pages(raw["SITE_PATHS"], site_dir)
    return Settings(
        database_url=_database_url(raw["DATABASE_URL"]),
        mail=parse_mail_url(raw["MAIL_URL"]),
        mail_from=_mail_from(raw["MAIL_FROM"]),
        secret_key=_secret_key(raw["SECRET_KEY"]),
        allowed_origins=_origins(raw["ALLOWED_ORIGINS"]),
        forms_path=Path(raw["FORMS"]),
        sales_path=Path(raw["SALES"]),
        public_url=_public_url(raw["PUBLIC_URL"]),
        ratelimit=_ratelimit(raw["RATELIMIT"]),
        ratelimit_storage=_ratelimit_storage(raw["RATELIMIT_STORAGE"]),
        ratelimit_prefix=raw["RATELIMIT_PREFIX"],
        site_url=_site_url(raw["SITE_URL"]),
        site_dir=site_dir,
        trusted_proxies=_whole_number("TRUSTED_PROXIES", raw["TRUSTED_PROXIES"]),
        timezone=_timezone(raw["TIMEZONE"]),
        auto_migrate=_flag("AUTO_MIGRATE", raw["AUTO_MIGRATE"]),
        embedded_worker=_flag("EMBEDDED_WORKER", raw["EMBEDDED_WORKER"]),
        digest=_flag("DIGEST", raw["DIGEST"]),
        delivery=_delivery(raw),
        health_token=_health_token(raw["HEALTH_TOKEN"]),
        views_ratelimit=_ratelimit(raw["VIEWS_RATELIMIT"], "VIEWS_RATELIMIT"),
        views_new_limit=_allowance(raw["VIEWS_NEW_LIMIT"], "VIEWS_NEW_LIMIT"),
        site_pages=site_pages,
        booking_ratelimit=_ratelimit(raw["BOOKING_RATELIMIT"], "BOOKING_RATELIMIT"),
        booking_alert=_whole_number("BOOKING_ALERT", raw["BOOKING_ALERT"]),
        retention=Retention(*(timedelta(seconds=_duration(f"KEEP_{name}", raw[f"KEEP_{name}"]))
                              for name in ("SPAM", "ENQUIRIES", "CLIENTS", "MESSAGES", "PAGE_VIEWS"))),
        webhook_secrets=_webhook_secrets(raw),
        warnings=tuple(_unknown(name) for name in sorted(set(raw) - set(DEFAULTS) - READ_ELSEWHERE)
                       if not name.startswith(WEBHOOK_SECRET)) + pages_warning,
    )


def _unknown(name: str) -> str:
    """One line for a CAPTURE_* name nothing reads (a typo leaves the default in force)."""
    close = difflib.get_close_matches(name, sorted(DEFAULTS), n=1)
    hint = f"; did you mean {PREFIX}{close[0]}?" if close else ""
    return f"{PREFIX}{name}: not a setting, ignored{hint}"


def _prefixed(source) -> dict:
    return {k[len(PREFIX):]: v for k, v in source.items() if k.startswith(PREFIX) and v is not None}


def _fail(name: str, message: str):
    raise ConfigError(f"{PREFIX}{name}: {message}")


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        _fail("DATABASE_URL", f"'{value}' is not a database URL (try sqlite:///var/capture.db)")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        _fail("DATABASE_URL", "only sqlite:/// and postgresql+psycopg:// URLs are supported")
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        _fail("DATABASE_URL", "use the psycopg 3 driver: postgresql+psycopg://user@host/db")
    if url.get_backend_name() == "sqlite" and not url.database:
        _fail("DATABASE_URL", "an in-memory SQLite database would lose every lead; give a file path")
    return value


def parse_mail_url(value: str) -> MailSettings:
    """Turn CAPTURE_MAIL_URL into MailSettings, or fail naming the setting."""
    scheme, _, rest = value.partition(":")
    if scheme not in MAIL_SCHEMES:
        _fail("MAIL_URL", f"'{scheme}' is not a mail transport (use one of {', '.join(MAIL_SCHEMES)})")
    if scheme == "console":
        return MailSettings("console")
    if scheme == "file":
        path = rest[2:] if rest.startswith("//") else rest
        if not path:
            _fail("MAIL_URL", "file: needs a folder, as in file:var/mail or file:///srv/mail")
        return MailSettings("file", path=path.rstrip("/") or "/")
    parts = urlsplit(value)
    try:
        port = parts.port or (465 if scheme == "smtps" else 587 if scheme == "smtp+starttls" else 25)
    except ValueError:
        _fail("MAIL_URL", "the port must be a number")
    if not parts.hostname:
        _fail("MAIL_URL", f"{scheme}:// needs a host, as in {scheme}://user:pass@smtp.example.com:587")
    return MailSettings(scheme, parts.hostname, port, unquote(parts.username or ""),
                        unquote(parts.password or ""))


def _mail_from(value: str) -> Address:
    """The sender, parsed once: the From header, the envelope sender and the Message-ID domain."""
    name, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False)
        return Address(display_name=name, addr_spec=address)
    except (EmailNotValidError, ValueError):
        _fail("MAIL_FROM", f"'{value}' has no valid sender address")


def _secret_key(value: str) -> str:
    if not value:
        _fail("SECRET_KEY", "not set; generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'")
    if len(value) < 16:
        _fail("SECRET_KEY", "too short; use at least 16 random characters")
    return value


def _origins(value: str) -> frozenset[str]:
    origins = set()
    for item in filter(None, (o.strip().rstrip("/") for o in value.split(","))):
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            _fail("ALLOWED_ORIGINS", f"'{item}' is not an origin like https://www.example.com")
        origins.add(item.lower())
    return frozenset(origins)


def _ratelimit(value: str, name: str = "RATELIMIT") -> str:
    if value.strip():
        try:
            parse_many(value)
        except ValueError:
            _fail(name, f"'{value}' is not a limit like '10 per minute;100 per day'")
    return value.strip()


def _allowance(value: str, name: str) -> str:
    """One limit, such as '300 per day' (an allowance counts one thing; empty: none)."""
    if value.strip() and len(parse_many(_ratelimit(value, name))) != 1:
        _fail(name, f"'{value}' is more than one limit; give one, like '300 per day'")
    return value.strip()


def _ratelimit_storage(value: str) -> str:
    if urlsplit(value).scheme not in ("memory", "redis", "rediss", "redis+unix"):
        _fail("RATELIMIT_STORAGE", f"'{value}' is not memory:// or a redis:// URL")
    return value


def _site_url(value: str) -> str:
    if value and urlsplit(value).scheme not in ("http", "https"):
        _fail("SITE_URL", f"'{value}' is not an http(s) URL")
    return value.rstrip("/")


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        _fail("PUBLIC_URL", f"'{value}' is not a base URL like https://www.fernleaf.example")
    return value.rstrip("/")


def _site_dir(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if not (path / "index.html").is_file():
        _fail("SITE_DIR", f"'{value}' has no index.html; build the site first (make site)")
    return path


def _site_pages(value: str, site_dir: Path | None) -> tuple[frozenset[str] | None, tuple[str, ...]]:
    """(the site's page paths or None, warnings): from CAPTURE_SITE_PATHS, else CAPTURE_SITE_DIR's list."""
    if value:
        try:
            return sitepaths.load(Path(value)), ()
        except ValueError as exc:
            _fail("SITE_PATHS", str(exc))
    if site_dir is None:
        return None, ()
    listed = site_dir / sitepaths.FILE_NAME
    if not listed.is_file():  # a build from before the list existed: it still works, unfiltered
        return None, (f"{PREFIX}SITE_DIR: no {sitepaths.FILE_NAME} in '{site_dir}' (an older build?); "
                      "views of any path are counted until the site is rebuilt (make site)",)
    try:
        return sitepaths.load(listed), ()
    except ValueError as exc:
        _fail("SITE_DIR", str(exc))


def _health_token(value: str) -> str:
    if value and len(value) < 16:
        _fail("HEALTH_TOKEN", "too short; use at least 16 random characters")
    return value


def _webhook_secrets(raw: dict) -> dict[str, str]:
    """CAPTURE_WEBHOOK_SECRET_<NAME> by endpoint name (lower case), each a Standard Webhooks secret."""
    found = {}
    for name in sorted(k for k in raw if k.startswith(WEBHOOK_SECRET)):
        endpoint, value = name[len(WEBHOOK_SECRET):], raw[name].strip()
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,29}", endpoint):
            _fail(name, "not a webhook secret's name: CAPTURE_WEBHOOK_SECRET_ and the endpoint's "
                        "name from sales.yml in capitals, e.g. CAPTURE_WEBHOOK_SECRET_CRM")
        if not value:
            continue  # set empty, as env.example may: the endpoint then has no secret
        found[endpoint.lower()] = _webhook_secret(name, value)
    return found


def _webhook_secret(name: str, value: str) -> str:
    """whsec_ and the base64 of 24 to 64 random bytes (the receiver must hold the same)."""
    match = WEBHOOK_SECRET_RE.fullmatch(value)
    try:
        size = len(base64.b64decode(match[1] + "=" * (-len(match[1]) % 4), validate=True)) if match else 0
    except (binascii.Error, ValueError):
        size = 0
    low, high = WEBHOOK_SECRET_BYTES
    if not low <= size <= high:
        _fail(name, f"not a webhook secret: whsec_ and the base64 of {low} to {high} random bytes; make one "
                    "with: python3 -c 'import base64, secrets; print(\"whsec_\" + "
                    "base64.b64encode(secrets.token_bytes(32)).decode())'")
    return value


def _whole_number(name: str, value: str) -> int:
    if not value.isdigit():
        _fail(name, f"'{value}' is not a whole number")
    return int(value)


def _timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        _fail("TIMEZONE", f"'{value}' is not a time zone name like Europe/London")


def _delivery(raw: dict) -> DeliverySettings:
    timeout = _duration("MAIL_TIMEOUT", raw["MAIL_TIMEOUT"])
    lease = _duration("MAIL_LEASE", raw["MAIL_LEASE"])
    if lease < 2 * timeout:
        _fail("MAIL_LEASE", f"'{raw['MAIL_LEASE']}' must be at least twice CAPTURE_MAIL_TIMEOUT, "
                            "or a slow send could be handed to a second worker")
    first = _duration("MAIL_RETRY_FIRST", raw["MAIL_RETRY_FIRST"])
    most = _duration("MAIL_RETRY_MAX", raw["MAIL_RETRY_MAX"])
    if most < first:
        _fail("MAIL_RETRY_MAX", f"'{raw['MAIL_RETRY_MAX']}' is shorter than CAPTURE_MAIL_RETRY_FIRST")
    return DeliverySettings(smtp_timeout=timeout, lease=lease, retry_first=first, retry_max=most,
                            give_up=_duration("MAIL_GIVE_UP", raw["MAIL_GIVE_UP"]),
                            poll=_duration("WORKER_POLL", raw["WORKER_POLL"]),
                            threads=_threads(raw["WORKER_THREADS"]),
                            confirmations_per_day=_whole_number("CONFIRMATIONS_PER_DAY",
                                                                raw["CONFIRMATIONS_PER_DAY"].strip()))


def _threads(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= 32:
        _fail("WORKER_THREADS", f"'{value}' is not a number of threads from 1 to 32")
    return int(value)


def _duration(name: str, value: str) -> float:
    """Seconds from '30', '0.5s', '250ms', '5m', '4h' or '1d' (a bare number is seconds); above zero."""
    try:
        amount = parse_duration(value, unitless="s")
    except ValueError:
        amount = None
    if not amount:  # none, or zero
        _fail(name, f"'{value}' is not a duration like 30s, 5m, 4h or 1d")
    return amount.total_seconds()


def _flag(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word not in ("1", "0", "true", "false", "yes", "no", "on", "off", ""):
        _fail(name, f"'{value}' is not on/off")
    return word in ("1", "true", "yes", "on")
