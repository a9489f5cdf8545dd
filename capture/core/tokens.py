"""Signed tokens in links: one-click actions from sales emails, and desk sign-in links.

An action token binds a lead, an action and the team address the link was
mailed to, and expires after 30 days; a visitor's booking token binds a booking
and an action to a keyed hash of their address (no address in its payload,
which is signed but readable) and expires after 60 days; a sign-in token names a single-use link row and
expires after 15 minutes. Tokens only open a page: the change happens on a POST
of that page (mail scanners follow every link in a message).
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from hashlib import sha256

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from capture.core.clock import utcnow
from capture.core.urls import external

ACTION_SALT = "capture.lead-action"
SIGN_IN_SALT = "capture.desk-sign-in"
ACTION_LIFETIME = timedelta(days=30)
SIGN_IN_LIFETIME = timedelta(minutes=15)
# What a link in a sales email can do, in the order the email shows them.
ACTIONS = {
    "contacted": "Mark as contacted",
    "consultation": "Record the consultation",
    "won": "Mark as won",
    "lost": "Mark as lost",
}


class TokenError(Exception):
    """A link that cannot be used; `status` is the HTTP answer, the message is for a person."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ActionLink:
    lead_id: str
    action: str
    recipient: str


class ClockSigner(TimestampSigner):
    """Stamps and ages tokens by `capture.clock`, so a test that moves the clock moves expiry too."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt, signer=ClockSigner)


def action_token(secret: str, lead_id: str, action: str, recipient: str) -> str:
    """A token for one action on one lead, for the address the email goes to."""
    if action not in ACTIONS and action != BOOK_REQUESTED:
        raise ValueError(f"unknown action {action!r}")
    return _serializer(secret, ACTION_SALT).dumps([lead_id, action, recipient.lower()])


def read_action(secret: str, token: str) -> ActionLink:
    """The action a token grants; TokenError for a tampered, expired or malformed one."""
    payload = _loads(_serializer(secret, ACTION_SALT), token, ACTION_LIFETIME,
                     "This link has expired (links in our emails work for 30 days).")
    if (not isinstance(payload, list) or len(payload) != 3 or not all(isinstance(p, str) for p in payload)
            or (payload[1] not in ACTIONS and payload[1] != BOOK_REQUESTED)):
        raise TokenError("This link is not one of ours.", 404)
    return ActionLink(*payload)


BOOKING_SALT = "capture.booking"  # in every booking link mailed: never renamed with a module
BOOKING_LIFETIME = timedelta(days=60)  # past the furthest meeting one can book, with room to spare
BOOKING_ACTIONS = {"cancel": "Cancel the consultation", "move": "Change the time"}
BOOK_REQUESTED = "book"  # sales confirm the time a visitor asked for (bound like an action)


@dataclass(frozen=True)
class BookingLink:
    booking_id: str
    action: str
    holder: str  # a keyed hash of the visitor's address (an address itself in links sent before 2026-12)
    secret: str = field(repr=False)

    def is_for(self, email: str | None) -> bool:
        """Whether the link was mailed to `email` (the lead's address now: none after erasure)."""
        if not email:
            return False
        if "@" in self.holder:  # an older link, which still carries the address itself
            return hmac.compare_digest(self.holder, email.lower())
        return hmac.compare_digest(self.holder, _holder(self.secret, email))


def _holder(secret: str, email: str) -> str:
    # Binds the link to the address without showing it: the token's payload is only signed, not hidden.
    return hmac.new(secret.encode(), b"booking-holder:" + email.strip().lower().encode(), sha256).hexdigest()[:24]


def booking_token(secret: str, booking_id: str, action: str, email: str) -> str:
    """A visitor's token to cancel or move their booking, bound to it and (opaquely) to their address."""
    if action not in BOOKING_ACTIONS:
        raise ValueError(f"unknown booking action {action!r}")
    return _serializer(secret, BOOKING_SALT).dumps([booking_id, action, _holder(secret, email)])


def read_booking(secret: str, token: str) -> BookingLink:
    """What a visitor's booking token allows; TokenError for a tampered, expired or malformed one."""
    payload = _loads(_serializer(secret, BOOKING_SALT), token, BOOKING_LIFETIME,
                     "This link has expired. Reply to our email and we will sort it out.")
    if (not isinstance(payload, list) or len(payload) != 3 or not all(isinstance(p, str) for p in payload)
            or payload[1] not in BOOKING_ACTIONS):
        raise TokenError("This link is not one of ours.", 404)
    return BookingLink(*payload, secret=secret)


def booking_links(secret: str, base_url: str, booking_id: str, email: str) -> list[dict]:
    """The visitor's "Change the time" and "Cancel" links."""
    return [{"action": action, "label": label,
             "url": external(base_url, f"/actions/booking/{booking_token(secret, booking_id, action, email)}")}
            for action, label in (("move", BOOKING_ACTIONS["move"]), ("cancel", BOOKING_ACTIONS["cancel"]))]


def sign_in_token(secret: str, link_id: str) -> str:
    """The token in a desk sign-in email, naming its single-use link row."""
    return _serializer(secret, SIGN_IN_SALT).dumps(link_id)


def read_sign_in(secret: str, token: str) -> str:
    """The sign-in link id a token names; TokenError if tampered or older than 15 minutes."""
    link_id = _loads(_serializer(secret, SIGN_IN_SALT), token, SIGN_IN_LIFETIME,
                     "This sign-in link has expired (they work for 15 minutes). Ask for a new one.")
    if not isinstance(link_id, str):
        raise TokenError("This sign-in link is not one of ours.", 404)
    return link_id


def _loads(serializer: URLSafeTimedSerializer, token: str, lifetime: timedelta, expired: str):
    try:
        return serializer.loads(token, max_age=int(lifetime.total_seconds()))
    except SignatureExpired:
        raise TokenError(expired, 410) from None
    except BadSignature:
        raise TokenError("This link is not one of ours (it may have been cut short or changed).",
                         404) from None


def action_links(secret: str, base_url: str, lead_id: str, recipient: str) -> list[dict]:
    """The links a sales email carries: open in the desk, then each one-click action."""
    links = [{"label": "Open the lead in the desk", "url": external(base_url, f"/desk/leads/{lead_id}")}]
    links += [{"label": label,
               "url": external(base_url, f"/actions/{action_token(secret, lead_id, action, recipient)}")}
              for action, label in ACTIONS.items()]
    return links
