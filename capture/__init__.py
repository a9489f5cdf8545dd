"""Fernleaf capture service: receives the site's forms, stores every lead, mails sales.

`create_app()` (capture/app.py) is the entry point for gunicorn, the `flask` CLI and tests.
"""
from .app import create_app

__all__ = ["create_app"]
