"""How intake plugs into the app: the public form API's blueprint."""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_limiter import Limiter

from capture.intake import api


def init_app(app: Flask, limiter: Limiter) -> list[Blueprint]:
    """Register the form API; returns its blueprint (JSON for other sites: no CSRF token)."""
    app.register_blueprint(api.bp)
    return [api.bp]
