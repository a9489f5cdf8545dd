"""Asking for a desk sign-in link: limits per requester, a cap per address, the same work for anyone."""
from __future__ import annotations

import pytest

from tests.test_desk import MAYA, TOM, csrf, sign_in_mail

STRANGER_IP, TOMS_IP = "203.0.113.9", "198.51.100.7"


def ask(client, email: str, ip: str, token: str):
    return client.post("/desk/sign-in", data={"email": email, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def waiting_for(app, email: str) -> int:
    return sum(1 for j in sign_in_mail(app) if j["recipient"] == email and j["status"] == "pending")


# --- limits per requester -------------------------------------------------------------------

def test_a_stranger_cannot_lock_a_salesperson_out(app, client):
    token = csrf(client)
    codes = [ask(client, TOM, STRANGER_IP, token).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429, 429]
    assert ask(client, TOM, TOMS_IP, token).status_code == 200  # Tom, from his own network
    assert waiting_for(app, TOM) == 6


def test_too_many_requests_get_the_desks_own_page_with_retry_after(app, client):
    token = csrf(client)
    for _ in range(5):
        ask(client, TOM, STRANGER_IP, token)
    response = ask(client, TOM, STRANGER_IP, token)
    text = response.get_data(as_text=True)
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert "Too many sign-in requests" in text
    assert "Werkzeug" not in text and "<title>429" not in text
    assert 0 < int(response.headers["Retry-After"]) <= 3600


def test_look_alike_spellings_of_an_address_share_one_requesters_limit(app, client):
    token = csrf(client)
    spellings = ["tom@fernleaf.example", "TOM@fernleaf.example", "tom@ｆernleaf.example",
                 "tom@fｅrnleaf.example", "tom@fernleaf。example", "tom@fernleaf.exampl\uff45", "tom@fernleaf.example"]
    codes = [ask(client, email, STRANGER_IP, token).status_code for email in spellings]
    assert codes == [200] * 5 + [429, 429] and waiting_for(app, TOM) == 5


def test_one_requester_may_ask_twenty_times_an_hour(app, client):
    token = csrf(client)
    codes = [ask(client, f"person{i}@example.com", STRANGER_IP, token).status_code for i in range(21)]
    assert codes == [200] * 20 + [429]
    assert ask(client, MAYA, TOMS_IP, token).status_code == 200
