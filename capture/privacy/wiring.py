"""How privacy plugs into the app: the daily retention run, a chore of the outbox."""
from __future__ import annotations

from flask import Flask

from capture.privacy import erasure


def init_app(app: Flask) -> None:
    """Register retention's chore and its daily schedule."""
    erasure.init_app()
