"""Error answers and request bodies, one implementation for the API, the beacons and the desk.

A step that must stop a request raises `Problem`; `render` builds every error answer in one
place, branching once: JSON (`{"errors": {...}}` or `{"error": "..."}`) for API clients, or
the HTML page the caller names for a browser.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, json, jsonify, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

MAX_BODY = 64 * 1024  # the most any endpoint reads; the app's MAX_CONTENT_LENGTH is one more
MAX_DRAIN = 1024 * 1024
MALFORMED = "The request body is malformed (its chunked framing is broken)."
KEPT_HEADERS = ("Retry-After", "Allow")  # what a Werkzeug error tells a client to do next


class Problem(Exception):
    """Stops a request: an HTTP status, a message, field errors, headers; `context` for its page."""

    def __init__(self, status: int, message: str, errors: dict | None = None, *, title: str = "",
                 headers: dict | None = None, **context):
        super().__init__(message)
        self.status, self.message, self.errors, self.context = status, message, errors, context
        self.title, self.headers = title, dict(headers or {})


def wants_json() -> bool:
    """Did the client send JSON or prefer JSON over HTML?"""
    accept = request.accept_mimetypes
    return request.is_json or accept["application/json"] > accept["text/html"]


def render(problem: Problem, page: Callable[[Problem], str] | None = None, *, negotiate: bool = True,
           **members) -> Response:
    """The one error answer: `page(problem)` as HTML, or JSON when there is no page (or the client wants JSON).

    `negotiate=False`: always the page (the desk's pages are for people). `members` are added to
    the JSON body after the errors (the API's next free slots).
    """
    if page is None or (negotiate and wants_json()):
        body = {"errors": problem.errors} if problem.errors else {"error": problem.message}
        response = jsonify({**body, **members})
    else:
        response = current_app.make_response(page(problem))
    response.status_code = problem.status
    response.headers.update(problem.headers)
    return response


def from_http_error(exc: HTTPException, messages: dict[int, str]) -> Problem:
    """Werkzeug's own error (413, 429, 405…) as a Problem in our words, keeping Retry-After and Allow."""
    sent = exc.get_response().headers
    return Problem(exc.code or 500, messages.get(exc.code, exc.description),
                   headers={name: sent[name] for name in KEPT_HEADERS if sent.get(name)})


def broken_body(exc: ParseException):
    """A body gunicorn could not parse while the app read it (a bad chunk size or extension, a
    missing chunk terminator): the client's mistake, a 400 in the usual shape, on any route."""
    return current_app.handle_http_exception(BadRequest(MALFORMED))


# --- request bodies -----------------------------------------------------------------

def read_body(too_large: str) -> bytes:
    """The whole body, or 413 (`too_large`) when it is over MAX_BODY, however it is framed.

    A chunked body has no Content-Length: the app's limit is MAX_BODY + 1, so
    reading one byte past MAX_BODY is how an oversized one is told from a full one
    (Werkzeug would otherwise stop at the limit and hand on a cut-off body).
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, too_large)
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise Problem(413, too_large) from None
    if len(body) > MAX_BODY:
        _drain()
        raise Problem(413, too_large)
    return body


def _drain() -> None:
    """Read and drop the rest of an oversized body (up to MAX_DRAIN), as nginx does.

    A server that closes the connection with unread data makes the client's
    system reset it, and the client may then never read our 413.
    """
    raw, left = request.environ.get("wsgi.input"), MAX_DRAIN
    try:
        while raw is not None and left > 0:
            chunk = raw.read(min(64 * 1024, left))
            if not chunk:
                return
            left -= len(chunk)
    except (OSError, ValueError):  # the client went away: nothing to answer
        return


def json_object(body: bytes, invalid: str, not_object: str) -> dict:
    """The body as a JSON object; 400 with `invalid` or `not_object` otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise Problem(400, invalid) from None
    if not isinstance(data, dict):
        raise Problem(400, not_object)
    return data
