"""How reports plug into the app: the weekly digest, a periodic message kind."""
from __future__ import annotations

from flask import Flask

from capture.reports import digest


def init_app(app: Flask) -> None:
    """Register the digest's renderer and its weekly schedule."""
    digest.init_app()
