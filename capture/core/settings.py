"""The settings: defaults, then `.env`, then CAPTURE_* variables, read into one Settings.

Every setting is parsed once at start (setting_checks.py checks each value,
mail_url.py the mail transport); a bad one raises ConfigError whose message is
one line naming the variable, so an operator never meets a traceback (or a
surprise at the first request).
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from email.headerregistry import Address

from dotenv import dotenv_values

from capture.core import setting_checks as check
from capture.core.mail_url import MailSettings, parse_mail_url
from capture.core.setting_checks import PREFIX, WEBHOOK_SECRET

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
    # Page-view beacons (traffic/beacons.py), per IP: a person reads a page or two a minute; a fast
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
    # The domain whose mail reaches `flask --app capture inbound` (an MX or a forwarding rule):
    # each lead's reply address lead+<token>@ it goes into Reply-To. Empty: no reply addresses.
    "REPLY_DOMAIN": "",
}
# CAPTURE_* names read by other parts than these settings: the site build, the
# tests, and the switch for `.env` itself.
READ_ELSEWHERE = frozenset({"API_URL", "DOTENV", "REQUIRE_SERVICES", "TEST_DATABASE_URL",
                            "TEST_NOW", "TEST_REDIS_URL"})


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
    page_views: timedelta  # the daily visit counts (traffic/counts.py): no personal data, kept for the report


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
    reply_domain: str = ""  # inbound/: lead+<token>@ this domain; "" sends no reply address
    warnings: tuple[str, ...] = ()


def load_settings(overrides: dict | None = None, environ=None) -> Settings:
    """Merge defaults, .env, the environment and `overrides`; check each value.

    `.env` in the working directory is read unless CAPTURE_DOTENV=0 (the tests
    set it, so a developer's own `.env` never changes what they test).
    """
    raw = dict(DEFAULTS)
    environ = os.environ if environ is None else environ
    switch = environ.get(f"{PREFIX}DOTENV", os.environ.get(f"{PREFIX}DOTENV", "1"))
    if check.flag("DOTENV", switch) and Path(".env").is_file():
        raw.update(_prefixed(dotenv_values(".env")))
    raw.update(_prefixed(environ))
    raw.update({k.upper(): str(v) for k, v in (overrides or {}).items()})
    site_dir = check.site_dir(raw["SITE_DIR"])
    site_pages, pages_warning = check.site_pages(raw["SITE_PATHS"], site_dir)
    return Settings(
        database_url=check.database_url(raw["DATABASE_URL"]),
        mail=parse_mail_url(raw["MAIL_URL"]),
        mail_from=check.mail_from(raw["MAIL_FROM"]),
        secret_key=check.secret_key(raw["SECRET_KEY"]),
        allowed_origins=check.origins(raw["ALLOWED_ORIGINS"]),
        forms_path=Path(raw["FORMS"]),
        sales_path=Path(raw["SALES"]),
        public_url=check.public_url(raw["PUBLIC_URL"]),
        ratelimit=check.ratelimit(raw["RATELIMIT"]),
        ratelimit_storage=check.ratelimit_storage(raw["RATELIMIT_STORAGE"]),
        ratelimit_prefix=raw["RATELIMIT_PREFIX"],
        site_url=check.site_url(raw["SITE_URL"]),
        site_dir=site_dir,
        trusted_proxies=check.whole_number("TRUSTED_PROXIES", raw["TRUSTED_PROXIES"]),
        timezone=check.timezone(raw["TIMEZONE"]),
        auto_migrate=check.flag("AUTO_MIGRATE", raw["AUTO_MIGRATE"]),
        embedded_worker=check.flag("EMBEDDED_WORKER", raw["EMBEDDED_WORKER"]),
        digest=check.flag("DIGEST", raw["DIGEST"]),
        delivery=_delivery(raw),
        health_token=check.health_token(raw["HEALTH_TOKEN"]),
        views_ratelimit=check.ratelimit(raw["VIEWS_RATELIMIT"], "VIEWS_RATELIMIT"),
        views_new_limit=check.allowance(raw["VIEWS_NEW_LIMIT"], "VIEWS_NEW_LIMIT"),
        site_pages=site_pages,
        booking_ratelimit=check.ratelimit(raw["BOOKING_RATELIMIT"], "BOOKING_RATELIMIT"),
        booking_alert=check.whole_number("BOOKING_ALERT", raw["BOOKING_ALERT"]),
        retention=Retention(*(timedelta(seconds=check.duration(f"KEEP_{name}", raw[f"KEEP_{name}"]))
                              for name in ("SPAM", "ENQUIRIES", "CLIENTS", "MESSAGES", "PAGE_VIEWS"))),
        webhook_secrets=check.webhook_secrets(raw),
        reply_domain=check.reply_domain(raw["REPLY_DOMAIN"]),
        warnings=tuple(_unknown(name) for name in sorted(set(raw) - set(DEFAULTS) - READ_ELSEWHERE)
                       if not name.startswith(WEBHOOK_SECRET)) + pages_warning,
    )


def _unknown(name: str) -> str:
    """One line for a CAPTURE_* name nothing reads (a typo leaves the default in force)."""
    close = difflib.get_close_matches(name, sorted(DEFAULTS), n=1)
    hint = f"; did you mean {PREFIX}{close[0]}?" if close else ""
    return f"{PREFIX}{name}: not a setting, ignored{hint}"


def _prefixed(source) -> dict:
    """The CAPTURE_* entries of `source`, by their names without the prefix."""
    return {k[len(PREFIX):]: v for k, v in source.items() if k.startswith(PREFIX) and v is not None}


def _delivery(raw: dict) -> DeliverySettings:
    """The mail worker's settings, checked against each other (a lease outlasts a send)."""
    timeout = check.duration("MAIL_TIMEOUT", raw["MAIL_TIMEOUT"])
    lease = check.duration("MAIL_LEASE", raw["MAIL_LEASE"])
    if lease < 2 * timeout:
        check.fail("MAIL_LEASE", f"'{raw['MAIL_LEASE']}' must be at least twice CAPTURE_MAIL_TIMEOUT, "
                                 "or a slow send could be handed to a second worker")
    first = check.duration("MAIL_RETRY_FIRST", raw["MAIL_RETRY_FIRST"])
    most = check.duration("MAIL_RETRY_MAX", raw["MAIL_RETRY_MAX"])
    if most < first:
        check.fail("MAIL_RETRY_MAX", f"'{raw['MAIL_RETRY_MAX']}' is shorter than CAPTURE_MAIL_RETRY_FIRST")
    return DeliverySettings(smtp_timeout=timeout, lease=lease, retry_first=first, retry_max=most,
                            give_up=check.duration("MAIL_GIVE_UP", raw["MAIL_GIVE_UP"]),
                            poll=check.duration("WORKER_POLL", raw["WORKER_POLL"]),
                            threads=check.threads(raw["WORKER_THREADS"]),
                            confirmations_per_day=check.whole_number("CONFIRMATIONS_PER_DAY",
                                                                     raw["CONFIRMATIONS_PER_DAY"].strip()))
