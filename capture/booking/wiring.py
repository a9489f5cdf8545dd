"""How booking plugs into the app: its message kinds and the Booked page (the manage pages are the desk's blueprint's)."""
from __future__ import annotations

from flask import Flask

from capture.booking import booked, surge, updates


def init_app(app: Flask) -> None:
    """Register the booking updates, the day-before reminder, the managers' booking-rate alert and the Booked page."""
    updates.init_app()
    surge.init_app()
    app.register_blueprint(booked.bp)
