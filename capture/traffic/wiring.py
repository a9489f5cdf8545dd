"""How traffic plugs into the app: the page-view beacon, with its own limit and daily allowance."""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_limiter import Limiter

from capture.context import of
from capture.traffic import beacons


def init_app(app: Flask, limiter: Limiter) -> list[Blueprint]:
    """Register the beacon; returns its blueprint (posted by the site's pages: no CSRF token)."""
    beacons.init_app(app, limiter, of(app).settings)
    return [beacons.bp]
