"""Cookies only where people sign in: the desk and the one-click pages from sales emails.

The public API and the site set no cookie at all (a visitor is never tracked);
under /desk/ and /actions/ Flask's signed session cookie carries the CSRF
secret and, once signed in, who the team member is. It is HttpOnly, SameSite=Lax,
Secure whenever the request came over HTTPS, and expires after 14 days idle.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

SESSION_PATHS = ("/desk/", "/actions/")
IDLE_LIFETIME = timedelta(days=14)


class PeopleOnlySessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only on the team's pages."""

    def open_session(self, app, request_):
        if not request_.path.startswith(SESSION_PATHS):
            return None  # Flask then hands views a read-only null session
        # Opening a session writes nothing: a page that stores nothing in it sets no cookie (a mail
        # scanner opening a link leaves none behind). Signing in makes it permanent, and from then
        # on every request restarts its idle clock (SESSION_REFRESH_EACH_REQUEST).
        return super().open_session(app, request_)

    def save_session(self, app, session, response):
        if request.path.startswith(SESSION_PATHS):
            super().save_session(app, session, response)

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure  # behind nginx, ProxyFix makes this the browser's scheme


def init_app(app: Flask) -> None:
    """Use the sessions above with the settings the desk needs."""
    app.session_interface = PeopleOnlySessions()
    app.config.update(SESSION_COOKIE_NAME="fernleaf_desk", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=IDLE_LIFETIME,
                      SESSION_REFRESH_EACH_REQUEST=True)
