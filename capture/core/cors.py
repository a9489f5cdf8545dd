"""Cross-origin posts to the public endpoints (the form API, the beacons): who may, and the headers.

Same-origin always passes; another origin only when the caller's `allowed` lists it
(CAPTURE_ALLOWED_ORIGINS, passed in from the settings, never read here).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from flask import Response, request

from capture.core.http import Problem

MAX_AGE = "86400"  # a day: browsers cap it lower anyway


def request_origin() -> str | None:
    """The Origin header (lower-case, no trailing slash), if the browser sent one."""
    origin = request.headers.get("Origin")
    return origin.strip().rstrip("/").lower() if origin else None


def origin_allowed(origin: str, allowed: Collection[str]) -> bool:
    """Our own origin, or one listed in `allowed`."""
    return origin == request.host_url.rstrip("/").lower() or origin in allowed


@dataclass(frozen=True)
class Cors:
    """What one endpoint lets an allowed origin do, and what it tells the others (403)."""
    refusal: str
    allow_headers: str  # what a preflight may ask to send
    expose_headers: str = ""  # what the page may read from an answer
    credentials: bool = False  # sendBeacon always sends credentials: its preflight must allow them

    def check(self, allowed: Collection[str]) -> None:
        """Refuse a browser's request from a site that is not ours or allowed."""
        origin = request_origin()
        if origin is not None and not origin_allowed(origin, allowed):
            raise Problem(403, self.refusal)

    def preflight(self, allowed: Collection[str], response: Response) -> Response:
        """`response` (an empty 204) as the answer to an allowed origin's preflight; 403 for the rest."""
        origin = request_origin()
        if origin is None or not origin_allowed(origin, allowed):
            raise Problem(403, self.refusal)
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = self.allow_headers
        response.headers["Access-Control-Max-Age"] = MAX_AGE
        return response

    def headers(self, response: Response, allowed: Collection[str]) -> Response:
        """Let an allowed origin read the answer (errors included); every answer varies by Origin."""
        origin = request_origin()
        if origin is not None and origin_allowed(origin, allowed):
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.expose_headers:
                response.headers["Access-Control-Expose-Headers"] = self.expose_headers
            if self.credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
        response.vary.add("Origin")
        return response
