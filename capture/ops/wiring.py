"""How ops plugs into the app: the health endpoint, and the built site when CAPTURE_SITE_DIR is set."""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_limiter import Limiter

from capture.context import of
from capture.ops import health, site


def init_app(app: Flask, limiter: Limiter) -> list[Blueprint]:
    """Register health (and the site); returns the health blueprint (read by monitors: no CSRF token)."""
    app.register_blueprint(health.bp)
    if of(app).settings.site_dir:
        app.register_blueprint(site.make_blueprint(of(app).settings.site_dir))
    return [health.bp]
