"""Reply addresses: opaque, the same for one lead, found again only while in use."""
from __future__ import annotations

import pytest

from capture.inbound import addresses

SECRET = "test-secret-key-0123456789abcdef"
DOMAIN = "reply.fernleaf.example"


def test_a_token_is_the_same_for_one_lead_different_for_another_and_reveals_nothing():
    one, again, other = (addresses.token_for(SECRET, lead) for lead in ("lead1", "lead1", "lead2"))
    assert one == again != other
    assert addresses.TOKEN.fullmatch(one) and "lead1" not in one
    assert addresses.token_for("another-secret-0123456789abcdef", "lead1") != one
    assert len(f"{addresses.LOCAL_PREFIX}{one}") <= 64  # a local part's limit (RFC 5321)


@pytest.mark.parametrize("address, found", [
    (f"lead+{'a' * 26}@{DOMAIN}", "a" * 26),
    (f"<LEAD+{'A' * 26}@Reply.Fernleaf.Example.>", "a" * 26),  # a server may change the case
    (f"lead+{'a' * 26}@other.example", None),
    (f"lead+{'a' * 25}@{DOMAIN}", None),
    (f"lead+{'1' * 26}@{DOMAIN}", None),  # not base32
    (f"sales@{DOMAIN}", None),
    ("no-at-sign", None),
])
def test_only_a_reply_address_on_the_domain_has_a_token(address, found):
    assert addresses.token_in(address, DOMAIN) == found
