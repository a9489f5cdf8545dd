"""The form API's error answers: JSON for scripts, the form again with its answers for a browser.

Built by core.http.render; this module adds what only the API knows: the page that shows
the form with the visitor's answers and the problems beside them, and the API's wording
for Werkzeug's own errors (413, 429).
"""
from __future__ import annotations

from flask import render_template, request
from werkzeug.exceptions import HTTPException

from capture.context import current
from capture.core.http import Problem, from_http_error, render
from capture.schema.forms import SCRIPT_FIELDS

PREFIX = "/api/"
TOO_LARGE = "The submission is too large (64 KiB at most)."
MESSAGES = {413: TOO_LARGE, 429: "Too many submissions from your network. Please wait a minute and try again."}


def problem_page(problem: Problem) -> str:
    """The form again (if there is one) with what was sent and what needs another look."""
    ext = current()
    data = problem.context.get("data") or {}
    return render_template(
        "server/problem.html", problem=problem, form=problem.context.get("form"),
        site_url=ext.settings.site_url or "/", values={k: v for k, v in data.items() if isinstance(v, str)},
        honeypot=ext.schema.honeypot, attribution=SCRIPT_FIELDS)


def problem_response(problem: Problem):
    """Every API error: JSON (with the next free times after a lost slot) or the page."""
    slots = {"slots": problem.context["slots"]} if "slots" in problem.context else {}
    return render(problem, problem_page, **slots)


def http_error(exc: HTTPException):
    """Werkzeug's own errors (413, 429, 405…) under /api/ in the same shape as ours."""
    if not request.path.startswith(PREFIX):
        return exc
    return problem_response(from_http_error(exc, MESSAGES))
