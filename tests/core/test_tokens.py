"""Tokens in links: what a visitor's booking link carries, readable by anyone who sees it."""
from __future__ import annotations

import base64
import json

import pytest
from itsdangerous import URLSafeTimedSerializer

from capture.core import tokens

SECRET = "test-secret-key-0123456789abcdef"


def payload(token: str):
    """What anyone can read from a signed token: its first part, base64 JSON."""
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def test_a_booking_token_carries_no_address_yet_is_bound_to_it():
    token = tokens.booking_token(SECRET, "bk123", "move", "Ada.Lovelace@Example.com")
    assert "@" not in json.dumps(payload(token)) and "lovelace" not in json.dumps(payload(token)).lower()
    link = tokens.read_booking(SECRET, token)
    assert (link.booking_id, link.action) == ("bk123", "move")
    assert link.is_for("ada.lovelace@example.com") and link.is_for("ADA.LOVELACE@EXAMPLE.COM")
    assert not link.is_for("eve@example.com") and not link.is_for(None) and not link.is_for("")
    assert SECRET not in repr(link)


def test_the_holder_hash_depends_on_the_secret():
    one = payload(tokens.booking_token(SECRET, "bk1", "cancel", "ada@example.com"))[2]
    other = payload(tokens.booking_token("another-secret-0123456789abcdef", "bk1", "cancel", "ada@example.com"))[2]
    assert one != other  # nobody without the secret can test a guessed address against a token


def test_a_link_mailed_before_tokens_became_opaque_still_works():
    old = URLSafeTimedSerializer(SECRET, salt=tokens.BOOKING_SALT).dumps(["bk1", "cancel", "ada@example.com"])
    link = tokens.read_booking(SECRET, old)
    assert link.is_for("Ada@Example.com") and not link.is_for("eve@example.com")


@pytest.mark.parametrize("bad", [["bk1", "cancel"], ["bk1", "delete", "x"], "bk1", ["bk1", "cancel", 3]])
def test_a_forged_shape_is_not_ours(bad):
    token = URLSafeTimedSerializer(SECRET, salt=tokens.BOOKING_SALT).dumps(bad)
    with pytest.raises(tokens.TokenError):
        tokens.read_booking(SECRET, token)


def test_links_already_mailed_still_verify_after_a_release():
    # The salts are part of every token in mail already sent (booking links live 60 days): a
    # rename of a module must never change them. These are the salts links were signed with.
    booking = URLSafeTimedSerializer(SECRET, salt="capture.booking").dumps(
        ["bk1", "move", payload(tokens.booking_token(SECRET, "bk1", "move", "ada@example.com"))[2]])
    assert tokens.read_booking(SECRET, booking).is_for("ada@example.com")
    action = URLSafeTimedSerializer(SECRET, salt="capture.lead-action").dumps(["ld1", "contacted", "sam@example.com"])
    assert tokens.read_action(SECRET, action).lead_id == "ld1"
    sign_in = URLSafeTimedSerializer(SECRET, salt="capture.desk-sign-in").dumps("link1")
    assert tokens.read_sign_in(SECRET, sign_in) == "link1"
