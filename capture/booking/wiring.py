"""How booking plugs into the app: its message kinds, the Booked page and the host's after-meeting
pages (the visitor's manage pages are the desk's blueprint's)."""
from __future__ import annotations

from flask import Flask

from capture.booking import aftercare, booked, outcome_pages, surge, updates


def init_app(app: Flask) -> None:
    """Register the booking updates, the day-before reminder, the managers' booking-rate alert,
    the Booked page, and the host's after-meeting question with its pages."""
    updates.init_app()
    surge.init_app()
    aftercare.init_app()
    app.register_blueprint(booked.bp)
    app.register_blueprint(outcome_pages.bp)
