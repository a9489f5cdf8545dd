"""Checking one CAPTURE_* value: each function returns it typed or raises ConfigError naming it."""
from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email.headerregistry import Address
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email
from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from capture.core import sitepaths
from capture.core.durations import parse_duration

PREFIX = "CAPTURE_"
# One per webhook endpoint of sales.yml: CAPTURE_WEBHOOK_SECRET_CRM for the endpoint `crm`.
WEBHOOK_SECRET = "WEBHOOK_SECRET_"
WEBHOOK_SECRET_RE = re.compile(r"whsec_([A-Za-z0-9+/]+={0,2})")
WEBHOOK_SECRET_BYTES = (24, 64)  # what the Standard Webhooks specification asks of a secret


class ConfigError(ValueError):
    """A setting is missing or malformed; str() is one line naming it."""


def fail(name: str, message: str):
    """Raise ConfigError for CAPTURE_<name>."""
    raise ConfigError(f"{PREFIX}{name}: {message}")


def database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        fail("DATABASE_URL", f"'{value}' is not a database URL (try sqlite:///var/capture.db)")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        fail("DATABASE_URL", "only sqlite:/// and postgresql+psycopg:// URLs are supported")
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        fail("DATABASE_URL", "use the psycopg 3 driver: postgresql+psycopg://user@host/db")
    if url.get_backend_name() == "sqlite" and not url.database:
        fail("DATABASE_URL", "an in-memory SQLite database would lose every lead; give a file path")
    return value


def mail_from(value: str) -> Address:
    """The sender, parsed once: the From header, the envelope sender and the Message-ID domain."""
    name, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False)
        return Address(display_name=name, addr_spec=address)
    except (EmailNotValidError, ValueError):
        fail("MAIL_FROM", f"'{value}' has no valid sender address")


def reply_domain(value: str) -> str:
    """The domain of the leads' reply addresses, lower case; "" when none is set up."""
    domain = value.strip().lower().rstrip(".")
    if not domain:
        return ""
    try:
        validate_email(f"lead@{domain}", check_deliverability=False)
    except EmailNotValidError:
        fail("REPLY_DOMAIN", f"'{value}' is not a mail domain (like reply.fernleaf.example)")
    if not domain.isascii():
        fail("REPLY_DOMAIN", f"'{value}': give an internationalised domain in its ASCII (xn--) form")
    return domain


def secret_key(value: str) -> str:
    if not value:
        fail("SECRET_KEY", "not set; generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'")
    if len(value) < 16:
        fail("SECRET_KEY", "too short; use at least 16 random characters")
    return value


def origins(value: str) -> frozenset[str]:
    origins = set()
    for item in filter(None, (o.strip().rstrip("/") for o in value.split(","))):
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            fail("ALLOWED_ORIGINS", f"'{item}' is not an origin like https://www.example.com")
        origins.add(item.lower())
    return frozenset(origins)


def ratelimit(value: str, name: str = "RATELIMIT") -> str:
    if value.strip():
        try:
            parse_many(value)
        except ValueError:
            fail(name, f"'{value}' is not a limit like '10 per minute;100 per day'")
    return value.strip()


def allowance(value: str, name: str) -> str:
    """One limit, such as '300 per day' (an allowance counts one thing; empty: none)."""
    if value.strip() and len(parse_many(ratelimit(value, name))) != 1:
        fail(name, f"'{value}' is more than one limit; give one, like '300 per day'")
    return value.strip()


def ratelimit_storage(value: str) -> str:
    if urlsplit(value).scheme not in ("memory", "redis", "rediss", "redis+unix"):
        fail("RATELIMIT_STORAGE", f"'{value}' is not memory:// or a redis:// URL")
    return value


def site_url(value: str) -> str:
    if value and urlsplit(value).scheme not in ("http", "https"):
        fail("SITE_URL", f"'{value}' is not an http(s) URL")
    return value.rstrip("/")


def public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        fail("PUBLIC_URL", f"'{value}' is not a base URL like https://www.fernleaf.example")
    return value.rstrip("/")


def site_dir(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if not (path / "index.html").is_file():
        fail("SITE_DIR", f"'{value}' has no index.html; build the site first (make site)")
    return path


def site_pages(value: str, site_dir: Path | None) -> tuple[frozenset[str] | None, tuple[str, ...]]:
    """(the site's page paths or None, warnings): from CAPTURE_SITE_PATHS, else CAPTURE_SITE_DIR's list."""
    if value:
        try:
            return sitepaths.load(Path(value)), ()
        except ValueError as exc:
            fail("SITE_PATHS", str(exc))
    if site_dir is None:
        return None, ()
    listed = site_dir / sitepaths.FILE_NAME
    if not listed.is_file():  # a build from before the list existed: it still works, unfiltered
        return None, (f"{PREFIX}SITE_DIR: no {sitepaths.FILE_NAME} in '{site_dir}' (an older build?); "
                      "views of any path are counted until the site is rebuilt (make site)",)
    try:
        return sitepaths.load(listed), ()
    except ValueError as exc:
        fail("SITE_DIR", str(exc))


def health_token(value: str) -> str:
    if value and len(value) < 16:
        fail("HEALTH_TOKEN", "too short; use at least 16 random characters")
    return value


def webhook_secrets(raw: dict) -> dict[str, str]:
    """CAPTURE_WEBHOOK_SECRET_<NAME> by endpoint name (lower case), each a Standard Webhooks secret."""
    found = {}
    for name in sorted(k for k in raw if k.startswith(WEBHOOK_SECRET)):
        endpoint, value = name[len(WEBHOOK_SECRET):], raw[name].strip()
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,29}", endpoint):
            fail(name, "not a webhook secret's name: CAPTURE_WEBHOOK_SECRET_ and the endpoint's "
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
        fail(name, f"not a webhook secret: whsec_ and the base64 of {low} to {high} random bytes; make one "
                    "with: python3 -c 'import base64, secrets; print(\"whsec_\" + "
                    "base64.b64encode(secrets.token_bytes(32)).decode())'")
    return value


def whole_number(name: str, value: str) -> int:
    if not value.isdigit():
        fail(name, f"'{value}' is not a whole number")
    return int(value)


def timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        fail("TIMEZONE", f"'{value}' is not a time zone name like Europe/London")


def threads(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= 32:
        fail("WORKER_THREADS", f"'{value}' is not a number of threads from 1 to 32")
    return int(value)


def duration(name: str, value: str) -> float:
    """Seconds from '30', '0.5s', '250ms', '5m', '4h' or '1d' (a bare number is seconds); above zero."""
    try:
        amount = parse_duration(value, unitless="s")
    except ValueError:
        amount = None
    if not amount:  # none, or zero
        fail(name, f"'{value}' is not a duration like 30s, 5m, 4h or 1d")
    return amount.total_seconds()


def flag(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word not in ("1", "0", "true", "false", "yes", "no", "on", "off", ""):
        fail(name, f"'{value}' is not on/off")
    return word in ("1", "true", "yes", "on")
