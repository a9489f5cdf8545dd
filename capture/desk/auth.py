"""Signing in to the desk: a magic link by email, then Flask-Login's session.

Asking for a link always answers the same "check your inbox" page, so nobody
can learn who is on the team; only team members get mail. The link's GET
(and HEAD) shows a button; only its POST route signs in (mail scanners open
links), once, and opening it leaves no cookie behind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask import (Blueprint, Flask, current_app, g, redirect, render_template, request, session,
                   url_for)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from email_validator import EmailNotValidError, validate_email

from capture.desk import signin
from capture.core.clock import utcnow
from capture.schema.team import SELLING, Member
from capture.core.tokens import TokenError, read_sign_in
from capture.core import link_forms
from capture.context import current
from capture.desk import errors

# Where a sign-in may send someone back to: a desk page, nothing from elsewhere.
RETURN_PATH = re.compile(r"/desk/(?:leads/[A-Za-z0-9_-]{1,40}|report|spam)?")  # used with fullmatch
# Per requester (IP), and per requester and address: enough for someone who mistypes, too few to
# mail-bomb a colleague. Never per address alone, or a stranger could lock anyone out; what one
# address can receive from everyone together is capped in signin.py, silently.
LIMITS = {"ip": "20 per hour", "ip_address": "5 per hour"}
# However active, a session ends this long after its sign-in (sessions.py ends it after 14 days idle).
SESSION_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class DeskUser(UserMixin):
    """A signed-in team member, as Flask-Login sees them."""
    id: str
    name: str
    roles: frozenset[str]

    @classmethod
    def of(cls, member: Member) -> "DeskUser":
        return cls(member.email, member.name, member.roles)

    @property
    def email(self) -> str:
        return self.id

    @property
    def can_change(self) -> bool:
        """Sales and managers move leads; marketing looks."""
        return bool(self.roles & SELLING)

    @property
    def can_reassign(self) -> bool:
        return "manager" in self.roles


def init_app(app: Flask, limiter: Limiter) -> None:
    """Flask-Login, and the sign-in views with their rate limits (a blueprint per app)."""
    manager = LoginManager(app)
    manager.login_view = "auth.sign_in"
    manager.login_message = "Please sign in to see the desk."
    manager.user_loader(_load_user)
    bp = Blueprint("auth", __name__, url_prefix="/desk")
    ask = limiter.limit(LIMITS["ip"])(limiter.limit(LIMITS["ip_address"], key_func=_address_key)(ask_for_link))
    bp.add_url_rule("/sign-in", "sign_in", sign_in, methods=["GET"])
    bp.add_url_rule("/sign-in", "ask_for_link", ask, methods=["POST"])
    bp.register_error_handler(429, _too_many)
    bp.add_url_rule("/sign-in/<token>", "show_link", show_link, methods=["GET"])
    bp.add_url_rule("/sign-in/<token>", "use_link", use_link, methods=["POST"])
    bp.add_url_rule("/sign-out", "sign_out", sign_out, methods=["POST"])
    app.register_blueprint(bp)


def _load_user(email: str) -> DeskUser | None:
    """The session's team member, if they are still on the team and have not signed out since."""
    ext = current()
    member = ext.sales.member(email)  # removing someone from sales.yml ends their sessions
    if member is None:
        return None
    signed_in_at = session.get("signed_in_at", 0)  # a session from before it was recorded: over
    if utcnow().timestamp() - signed_in_at >= SESSION_LIFETIME.total_seconds():
        return None
    out = signin.signed_out_at(ext.engine, member.email)
    if out is not None and signed_in_at <= out.timestamp():
        return None
    return DeskUser.of(member)


def _address_key() -> str:
    # This requester and the address as it will be used: look-alike spellings of one mailbox
    # share one limit, and nobody else's requests count against it.
    typed = (request.form.get("email") or "").strip()[:320]
    try:
        typed = validate_email(typed, check_deliverability=False).normalized
    except EmailNotValidError:
        pass
    return f"desk-sign-in:{get_remote_address()}:{typed.lower()}"


def sign_in():
    """The email form (GET and HEAD)."""
    if current_user.is_authenticated:
        return redirect(url_for("desk.inbox"))
    back = request.args.get("next", "")
    return render_template("desk/sign_in.html", next=back if RETURN_PATH.fullmatch(back) else "")


def ask_for_link():
    """Mail a link if the address is on the team; the same answer either way (POST only)."""
    if current_user.is_authenticated:
        return redirect(url_for("desk.inbox"))
    back = request.form.get("next", "")
    if RETURN_PATH.fullmatch(back):
        session["return_to"] = back  # this browser, once signed in, goes back there
    email = (request.form.get("email") or "").strip()
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        return render_template("desk/sign_in.html", email=email, next=session.get("return_to", ""),
                               error="Please enter your email address, like name@example.com."), 422
    ext = current()
    signin.request_link(ext.engine, ext.sales, email, ext.mail_domain, utcnow())
    return render_template("desk/sign_in_sent.html", email=email)


def rotate_csrf_secret() -> None:
    """At sign-in: drop Flask-WTF's CSRF secret, so a token from before is worthless after.

    Flask-WTF keeps the secret in the session and this request's signed token in `g`; the next
    form rendered makes a new one.
    """
    name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(name, None)
    g.pop(name, None)


def _too_many(error):
    """The limit's answer as a desk page (Flask-Limiter adds Retry-After to it)."""
    return errors.page("Too many sign-in requests", "Your network has asked for too many sign-in links. "
                       "Please use a link you have already been sent, or try again in an hour.", 429)


def show_link(token: str):
    """The sign-in link's page (GET and HEAD): one button; the link is not spent by opening it."""
    try:
        read_sign_in(current().settings.secret_key, token)
    except TokenError as exc:
        return _link_problem(str(exc), exc.status)
    return render_template("desk/sign_in_confirm.html", form_token=link_forms.form_token(token))


@link_forms.acts
def use_link(token: str):
    """The button: spend the link and sign in on this device."""
    ext = current()
    try:
        link_id = read_sign_in(ext.settings.secret_key, token)
    except TokenError as exc:
        return _link_problem(str(exc), exc.status)
    email = signin.use_link(ext.engine, link_id, utcnow())
    member = ext.sales.member(email) if email else None
    if member is None:
        return _link_problem("This sign-in link has been used already. Ask for a new one.", 410)
    back = session.get("return_to", "")
    session.clear()  # nothing from before signing in carries over
    login_user(DeskUser.of(member))
    rotate_csrf_secret()
    session.permanent = True  # the idle clock restarts on every request from now on
    session["signed_in_at"] = utcnow().timestamp()
    return redirect(back if RETURN_PATH.fullmatch(back) else url_for("desk.inbox"), code=303)


def sign_out():
    """End this person's sessions everywhere, then this browser's."""
    if current_user.is_authenticated:
        signin.sign_out(current().engine, current_user.email, utcnow())
    logout_user()
    return redirect(url_for("auth.sign_in"), code=303)


def _link_problem(message: str, status: int):
    return errors.page("This link cannot be used", message, status, sign_in=True)
