"""The desk: the team's small web app under /desk/, and the one-click pages from emails.

Server-rendered (templates/desk/), no JavaScript needed, usable on a phone.
Sign-in is by magic link (auth.py, Flask-Login); every POST carries a CSRF
token (Flask-WTF); no page is stored by a shared cache.
"""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError, CSRFProtect

from .. import sessions
from ..mail import local_time
from . import actions, auth, booking_pages, link_forms, views

PAGES = ("/desk/", "/actions/")


def init_app(app: Flask, limiter: Limiter, exempt: tuple = ()) -> None:
    """Sessions, sign-in, CSRF and the desk's blueprints; `exempt`: blueprints without CSRF (the API)."""
    sessions.init_app(app)
    app.config.update(WTF_CSRF_TIME_LIMIT=None)  # a token lives as long as the session
    csrf = CSRFProtect(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
    auth.init_app(app, limiter)
    link_forms.exempt_all(csrf)
    app.register_blueprint(views.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(booking_pages.bp)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.add_template_filter(local_time, "desk_time")
    app.after_request(_private)


def _csrf_failed(error: CSRFError):
    return render_template("desk/message.html", title="This form has expired",
                           message="The page was open too long or came from elsewhere, so nothing "
                                   "was changed. Go back, reload the page and try again."), 400


def _private(response):
    # The desk and action pages show leads: never kept by a shared cache.
    if request.path.startswith(PAGES):
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # tokens live in action URLs
    return response
