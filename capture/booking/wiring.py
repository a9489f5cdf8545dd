"""How booking plugs into the app: its message kinds (its pages are the desk's blueprint's)."""
from __future__ import annotations

from flask import Flask

from capture.booking import surge, updates


def init_app(app: Flask) -> None:
    """Register the booking updates, the day-before reminder and the managers' booking-rate alert."""
    updates.init_app()
    surge.init_app()
