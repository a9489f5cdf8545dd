"""Fernleaf capture service: receives the site's forms, stores every lead, mails sales.

`create_app()` (capture/app.py) is the entry point for gunicorn, the `flask` CLI and tests.
The package itself imports nothing: the site build (capture/sitebuild.py) imports
`capture.schema.forms` without bringing in Flask and SQLAlchemy, so `create_app` is
looked up on first use (PEP 562), not imported here.
"""
from importlib import import_module

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        return import_module("capture.app").create_app
    raise AttributeError(f"module 'capture' has no attribute {name!r}")
