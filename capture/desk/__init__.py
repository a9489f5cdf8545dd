"""The desk: the team's small web app under /desk/, and the one-click pages from emails.

Server-rendered (templates/desk/), no JavaScript needed, usable on a phone.
Sign-in is by magic link (auth.py, Flask-Login); every POST carries a CSRF
token (Flask-WTF); no page is stored by a shared cache.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from capture.desk import sessions
from capture.core import formatting
from capture.desk import actions
from capture.desk import auth
from capture.booking import pages
from capture.core import link_forms
from capture.desk import views
from capture import context
from capture.context import current

PAGES = ("/desk/", "/actions/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
# Only our origin leaves a page: never a token in its path (in another server's log), and our own
# POSTs carry a real Origin (under no-referrer a browser sends `Origin: null`).
REFERRER_POLICY = "strict-origin"
RETRY_AFTER = 60  # seconds: a restarting database is usually back within a minute
log = logging.getLogger(__name__)


def init_app(app: Flask, limiter: Limiter, exempt: tuple = ()) -> None:
    """Sessions, sign-in, CSRF and the desk's blueprints; `exempt`: blueprints without CSRF (the API)."""
    sessions.init_app(app)
    # A token lives as long as the session. Flask-WTF's HTTPS check wants a Referer naming our
    # host, which privacy settings and proxies leave out: _same_origin checks the Origin instead.
    app.config.update(WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=False)
    csrf = CSRFProtect(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
    auth.init_app(app, limiter)
    link_forms.exempt_all(csrf)
    app.register_blueprint(views.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(pages.bp)
    app.register_error_handler(CSRFError, _csrf_failed)
    for error in (SQLAlchemyError, context.of(app).engine.dialect.loaded_dbapi.Error):
        app.register_error_handler(error, _database_down)
    app.jinja_env.filters.update(formatting.FILTERS)
    app.before_request(_same_origin)
    app.after_request(_private)


def _csrf_failed(error: CSRFError):
    return render_template("desk/message.html", title="This form has expired",
                           message="The page was open too long or came from elsewhere, so nothing "
                                   "was changed. Go back, reload the page and try again."), 400


def _same_origin() -> None:
    """A desk or one-click POST that a browser says came from another origin is refused.

    With the CSRF token (which stays), this is what Flask-WTF's Referer check was for. Ours:
    the request's own origin (through ProxyFix behind a trusted proxy), or CAPTURE_PUBLIC_URL's.
    """
    origin = request.headers.get("Origin")
    if origin is None or request.method in SAFE_METHODS or not request.path.startswith(PAGES):
        return
    public = urlsplit(current().settings.public_url)
    ours = {f"{request.scheme}://{request.host}".lower(), f"{public.scheme}://{public.netloc}".lower()}
    if origin.lower() not in ours:
        raise CSRFError("The request came from another origin.")


def _database_down(error: Exception):
    """A desk or email page whose database did not answer: the desk's own 503, never a 500.

    Nothing needs resetting for the next request: a dead pooled connection is replaced before
    use (store._ping), and SQLAlchemy discards one that fails in use. The log names the kind
    of error and the page, never the error's text (it can quote a lead's values).
    """
    if not request.path.startswith(PAGES):
        raise error  # the API and the beacons answer their own 503s
    log.error("the database did not answer %s %s (%s)", request.method, request.endpoint,
              type(getattr(error, "orig", None) or error).__name__)  # the driver's own kind
    # Rendered without the app's template context: Flask-Login's context processor would ask
    # the database who is signed in, and that may be what just failed.
    page = current_app.jinja_env.get_template("desk/message.html").render(
        title="Please try again in a minute",
        message="We could not reach our records just now. Please try again in a minute; "
                "if you were making a change, check afterwards whether it was made.")
    return page, 503, {"Retry-After": str(RETRY_AFTER)}


def _private(response):
    # The desk and action pages show leads: never kept by a shared cache.
    if request.path.startswith(PAGES):
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Referrer-Policy"] = REFERRER_POLICY  # tokens live in action URLs
        # Their buttons act: no other page may frame them to trick a click (old and new browsers).
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response
