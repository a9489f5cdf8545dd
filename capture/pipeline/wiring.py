"""How the pipeline plugs into the app: the lead's notification, receipt, reminder and escalation."""
from __future__ import annotations

from flask import Flask

from capture.pipeline import notices


def init_app(app: Flask) -> None:
    """Register the pipeline's message kinds."""
    notices.init_app()
