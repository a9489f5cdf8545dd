"""How delivery plugs into the app: webhooks are the one message kind it renders itself."""
from __future__ import annotations

from flask import Flask

from capture.delivery import webhooks
from capture.delivery.registry import Kind, register


def init_app(app: Flask) -> None:
    """Register the webhook renderer (the worker finds every other kind's in its capability)."""
    register(Kind.WEBHOOK, webhooks.render)
