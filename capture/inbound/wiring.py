"""How inbound mail plugs into the app: the `inbound` command."""
from __future__ import annotations

from flask import Flask

from capture.inbound.command import inbound


def init_app(app: Flask) -> None:
    """Add `flask --app capture inbound`."""
    app.cli.add_command(inbound)
