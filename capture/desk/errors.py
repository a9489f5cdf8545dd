"""The desk's error pages: one message page (desk/message.html) through core.http's renderer.

Used for the desk, the one-click pages from emails (actions.py) and what goes wrong under
both: an expired form (CSRF) and a database that did not answer.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from capture.context import of
from capture.core.http import Problem, render

TEMPLATE = "desk/message.html"
RETRY_AFTER = 60  # seconds: a restarting database is usually back within a minute
log = logging.getLogger(__name__)


def message_page(problem: Problem) -> str:
    """The problem's title and message on a desk page."""
    return render_template(TEMPLATE, title=problem.title, message=problem.message, **problem.context)


def bare_message_page(problem: Problem) -> str:
    """The same page without the app's template context.

    Flask-Login's context processor would ask the database who is signed in, and that may
    be what just failed.
    """
    return current_app.jinja_env.get_template(TEMPLATE).render(title=problem.title, message=problem.message)


def page(title: str, message: str, status: int, headers: dict | None = None, bare: bool = False,
         **context) -> Response:
    """A message page with `status`: always HTML, the desk's pages are read by people."""
    problem = Problem(status, message, title=title, headers=headers, **context)
    return render(problem, bare_message_page if bare else message_page, negotiate=False)


def init_app(app: Flask, pages: tuple[str, ...]) -> None:
    """An expired form anywhere, and a silent database under `pages`, answer with a message page."""
    app.register_error_handler(CSRFError, csrf_failed)
    database_down = _database_down(pages)
    for error in (SQLAlchemyError, of(app).engine.dialect.loaded_dbapi.Error):
        app.register_error_handler(error, database_down)


def csrf_failed(error: CSRFError) -> Response:
    return page("This form has expired", "The page was open too long or came from elsewhere, so nothing "
                "was changed. Go back, reload the page and try again.", 400)


def _database_down(pages: tuple[str, ...]):
    def database_down(error: Exception):
        """A desk or email page whose database did not answer: the desk's own 503, never a 500.

        Nothing needs resetting for the next request: a dead pooled connection is replaced before
        use (store._ping), and SQLAlchemy discards one that fails in use. The log names the kind
        of error and the page, never the error's text (it can quote a lead's values).
        """
        if not request.path.startswith(pages):
            raise error  # the API and the beacons answer their own 503s
        log.error("the database did not answer %s %s (%s)", request.method, request.endpoint,
                  type(getattr(error, "orig", None) or error).__name__)  # the driver's own kind
        return page("Please try again in a minute",
                    "We could not reach our records just now. Please try again in a minute; "
                    "if you were making a change, check afterwards whether it was made.",
                    503, headers={"Retry-After": str(RETRY_AFTER)}, bare=True)
    return database_down
