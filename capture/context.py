"""What the app's parts share (settings, the form schema, the sales process, the database),
and the one way to reach it from a request or a command: `current()`."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from capture.core.settings import Settings
from capture.db.store import LeadWriter
from capture.schema.forms import Schema
from capture.schema.sales import Sales

KEY = "capture"


@dataclass
class Capture:
    """Settings, the form schema, the sales process and the database of one app."""
    settings: Settings
    schema: Schema
    sales: Sales
    engine: Engine
    mail_domain: str
    writer: LeadWriter


def attach(app: Flask, capture: Capture) -> None:
    """Make `capture` the shared state of `app`."""
    app.extensions[KEY] = capture


def current() -> Capture:
    """The shared state of the app handling this request or command."""
    return current_app.extensions[KEY]


def of(app: Flask) -> Capture:
    """The shared state of `app`, outside a request (while it is being built)."""
    return app.extensions[KEY]
