"""The desk: the team's small web app under /desk/, and the one-click pages from emails.

Server-rendered (templates/desk/), no JavaScript needed, usable on a phone.
Sign-in is by magic link (auth.py, Flask-Login); every POST carries a CSRF
token (Flask-WTF); no page is stored by a shared cache.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError, CSRFProtect

from capture.desk import sessions, signin
from capture.core import formatting
from capture.desk import actions
from capture.desk import errors
from capture.desk import auth
from capture.booking import pages
from capture.core import link_forms
from capture.desk import calls, erase_page, lead_page, report_page, views
from capture.context import current

PAGES = ("/desk/", "/actions/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
# Only our origin leaves a page: never a token in its path (in another server's log), and our own
# POSTs carry a real Origin (under no-referrer a browser sends `Origin: null`).
REFERRER_POLICY = "strict-origin"
# The desk's page groups: each adds its routes to views.bp when imported, before it is registered.
PAGE_GROUPS = (views, lead_page, calls, erase_page, report_page)


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
    signin.init_app()
    link_forms.exempt_all(csrf)
    app.register_blueprint(views.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(pages.bp)
    errors.init_app(app, PAGES)
    app.jinja_env.filters.update(formatting.FILTERS)
    app.before_request(_same_origin)
    app.after_request(_private)


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


def _private(response):
    # The desk and action pages show leads: never kept by a shared cache.
    if request.path.startswith(PAGES):
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Referrer-Policy"] = REFERRER_POLICY  # tokens live in action URLs
        # Their buttons act: no other page may frame them to trick a click (old and new browsers).
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response
