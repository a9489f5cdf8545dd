"""The button on a page opened from an emailed link: a form token without a cookie.

Mail scanners and link previewers open every link in a message with GET or HEAD
(and some follow with OPTIONS), so those pages only show; their POST acts. A
scanner must not even leave a session behind, so these pages carry no session
cookie at all: the form's token is signed with the app's secret and bound to the
link it was served for (a hash of the link's token), and it expires. Only the
page itself hands it out, and another site's page cannot read it (same-origin
policy); a browser's POST that says it comes from another origin is refused too
(`desk._same_origin`, for every desk and link POST).

`acts` marks a link page's POST view: it checks the token before the view runs,
and `exempt_all` takes those views out of Flask-WTF's session-based check.
"""
from __future__ import annotations

import hashlib
from functools import wraps

from flask import current_app, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import BadSignature, URLSafeTimedSerializer

from capture.core.tokens import ClockSigner

SALT = "capture.link-form"
LIFETIME_SECONDS = 24 * 3600  # a page left open overnight still works
FIELD = "csrf_token"  # the field name the templates (and Flask-WTF's pages) use
_views: list = []


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT, signer=ClockSigner)


def _bound(link_token: str) -> str:
    return hashlib.sha256(link_token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def form_token(link_token: str) -> str:
    """The token the page for `link_token` puts in its form."""
    return _serializer().dumps(_bound(link_token))


def check(link_token: str) -> None:
    """CSRFError unless the POST carries this link's form token (the Origin is checked for every
    desk and link POST in one place: desk/__init__.py)."""
    try:
        bound = _serializer().loads(request.form.get(FIELD, ""), max_age=LIFETIME_SECONDS)
    except BadSignature:
        raise CSRFError("The form token is missing, expired or not ours.") from None
    if bound != _bound(link_token):
        raise CSRFError("The form token belongs to another link.")


def acts(view):
    """Decorate the POST view of a link page (first argument: the link's token)."""
    @wraps(view)
    def checked(token: str, *args, **kwargs):
        check(token)
        return view(token, *args, **kwargs)
    _views.append(checked)
    return checked


def exempt_all(csrf: CSRFProtect) -> None:
    """These views check their own token: Flask-WTF's session-bound check would need a cookie."""
    for view in _views:
        csrf.exempt(view)
