"""Rate limits with Flask-Limiter: per-IP on submissions, per IP and per address on sign-in links.

One Limiter per app (tests build many apps). CAPTURE_RATELIMIT applies to form
posts only, so health checks and preflights never use up a visitor's quota;
CAPTURE_BOOKING_RATELIMIT, besides it, to the posts that book a time (counted
by the submit view once it knows the post carries a slot); the desk's sign-in
limits (desk/auth.py) are always on. An `Allowance` counts, in the same storage,
what one address may add in a business day (the page-view counter's new
visitors and rows, traffic/counts.py).
"""
import logging
from dataclasses import dataclass
from datetime import date

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem

from capture.core.settings import Settings

LIMITED_ENDPOINT = "api.submit"
log = logging.getLogger(__name__)
BOOKING_SCOPE = "booking"
BOOKING_LIMIT = "capture.booking_limit"  # the app's booking limit, in app.extensions


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Attach a limiter using CAPTURE_RATELIMIT and CAPTURE_RATELIMIT_STORAGE."""
    limiter = Limiter(
        get_remote_address, app=app,
        default_limits=[settings.ratelimit] if settings.ratelimit else [],
        default_limits_exempt_when=_not_a_submission,
        storage_uri=settings.ratelimit_storage, key_prefix=settings.ratelimit_prefix,
        headers_enabled=True,
        # A broken Redis must not cost a lead: submissions go through unlimited.
        swallow_errors=True)
    app.extensions[BOOKING_LIMIT] = (
        limiter.shared_limit(settings.booking_ratelimit, scope=BOOKING_SCOPE, override_defaults=False)
        if settings.booking_ratelimit else None)
    return limiter


def count_booking() -> bool:
    """Count this request against CAPTURE_BOOKING_RATELIMIT (per IP); False once it is over it.

    Entering Flask-Limiter's limit as a context manager is its documented way to
    limit part of a view: the hit happens on entry, there is nothing to wrap.
    """
    limit = current_app.extensions.get(BOOKING_LIMIT)
    if limit is None:
        return True
    try:
        with limit:
            pass
    except RateLimitExceeded:
        return False
    return True


def _not_a_submission() -> bool:
    return request.endpoint != LIMITED_ENDPOINT or request.method != "POST"


@dataclass(frozen=True)
class Allowance:
    """What one address may add in a day (e.g. CAPTURE_VIEWS_NEW_LIMIT), counted in the limiter's storage.

    Keyed by the business day (from the injected clock) and the address, so a day's allowance
    starts afresh at midnight whatever the storage's own window; the storage drops the key after
    the limit's period. The address is in the limiter's storage for that long, as it is for every
    rate limit, and never in the database.
    """
    limiter: Limiter
    item: RateLimitItem
    prefix: str
    name: str  # what is counted, in the storage's keys

    def take(self, day: date, address: str) -> bool:
        """Use one of the address's new things of the day; False when none is left."""
        try:
            return self.limiter.limiter.hit(self.item, self.prefix, self.name, day.isoformat(), address)
        except Exception as exc:  # noqa: BLE001 -- any storage failure: allow, as the rate limits do
            log.warning("%s allowance unavailable (%s); allowed", self.name, type(exc).__name__)
            return True
