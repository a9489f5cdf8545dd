"""Rate limits with Flask-Limiter: per-IP on submissions, per IP and per address on sign-in links.

One Limiter per app (tests build many apps). CAPTURE_RATELIMIT applies to form
posts only, so health checks and preflights never use up a visitor's quota;
the desk's sign-in limits (desk/auth.py) are always on.
"""
from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .config import Settings

LIMITED_ENDPOINT = "api.submit"


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
    return limiter


def _not_a_submission() -> bool:
    return request.endpoint != LIMITED_ENDPOINT or request.method != "POST"
