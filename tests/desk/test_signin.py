"""Asking for a desk sign-in link: limits per requester, a cap per address, the same work for anyone."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import event, select

from capture.desk import signin
from capture.core.clock import utcnow
from capture.desk import auth
from capture.db.models import outbox, sign_in_links
from capture.core.tokens import SIGN_IN_LIFETIME
from tests.desk.test_desk import MAYA, TOM, csrf, link_for, sign_in, sign_in_mail

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


# --- what one address can receive from everyone together ----------------------------------------

def test_past_ten_live_links_no_more_mail_and_the_page_is_the_same(app, client, monkeypatch):
    start = utcnow()
    monkeypatch.setattr(auth, "utcnow", lambda: start)
    token = csrf(client)
    for n in range(2):  # two networks, five each: every request mailed
        assert all(ask(client, TOM, f"203.0.113.{n}", token).status_code == 200 for _ in range(5))
    assert waiting_for(app, TOM) == signin.LIVE_LINKS == 10
    capped = ask(client, TOM, TOMS_IP, token)
    stranger = ask(client, "someone@example.com", TOMS_IP, token)
    assert capped.status_code == stranger.status_code == 200
    assert capped.get_data(as_text=True).replace(TOM, "X") == stranger.get_data(as_text=True).replace(
        "someone@example.com", "X")
    assert waiting_for(app, TOM) == 10  # silently: the ten in Tom's inbox still work
    monkeypatch.setattr(auth, "utcnow", lambda: start + SIGN_IN_LIFETIME + timedelta(seconds=1))
    assert ask(client, TOM, TOMS_IP, token).status_code == 200
    assert waiting_for(app, TOM) == 11  # the old links expired: a new one is mailed


def test_a_used_link_no_longer_counts_as_live(app, client):
    ext = app.extensions["capture"]
    now = utcnow()
    for _ in range(signin.LIVE_LINKS):
        assert signin.request_link(ext.engine, ext.sales, TOM, ext.mail_domain, now)
    assert not signin.request_link(ext.engine, ext.sales, TOM, ext.mail_domain, now)
    signin.use_link(ext.engine, sign_in_mail(app)[0]["ref"], now)
    assert signin.request_link(ext.engine, ext.sales, TOM, ext.mail_domain, now)


# --- the same work for anyone ------------------------------------------------------------------

def statements(engine, run) -> list[str]:
    """The SQL `run()` sends to the database, in order."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def test_a_team_address_and_a_strangers_cost_the_same_statements(app):
    ext = app.extensions["capture"]
    now = utcnow()

    def asking(email: str):
        return lambda: signin.request_link(ext.engine, ext.sales, email, ext.mail_domain, now)
    member, stranger = (statements(ext.engine, asking(email)) for email in (MAYA, "stranger@example.com"))
    assert member == stranger
    written = {re.search(r"INSERT INTO (\w+)", s).group(1) for s in member if s.startswith("INSERT")}
    assert written == {"sign_in_links", "outbox"}


def test_a_request_nobody_receives_keeps_no_address_and_cannot_be_used(app):
    ext = app.extensions["capture"]
    now = utcnow()
    assert not signin.request_link(ext.engine, ext.sales, "stranger@example.com", ext.mail_domain, now)
    with ext.engine.connect() as conn:
        link = conn.execute(select(sign_in_links)).mappings().one()
        message = conn.execute(select(outbox)).mappings().one()
        everything = [str(v) for table in (sign_in_links, outbox) for row in conn.execute(select(table))
                      for v in row]
    assert not any("stranger" in v for v in everything)
    assert link["expires_at"] <= now and message["status"] == "dropped"
    assert signin.use_link(ext.engine, link["id"], now) is None


# --- the session after sign-in -------------------------------------------------------------------

def test_a_csrf_token_from_before_sign_in_is_worthless_after(app, client):
    path = link_for(app, TOM)
    before = csrf(client, path)
    assert client.post(path, data={"csrf_token": before}).status_code == 303
    stale = client.post("/desk/sign-out", data={"csrf_token": before})
    assert stale.status_code == 400 and "This form has expired" in stale.get_data(as_text=True)
    assert client.get("/desk/").status_code == 200  # still signed in: nothing was done
    assert client.post("/desk/sign-out", data={"csrf_token": csrf(client, "/desk/")}).status_code == 303
    assert client.get("/desk/").status_code == 302


def test_a_session_ends_thirty_days_after_sign_in_however_active(app, client, monkeypatch):
    start = utcnow()
    monkeypatch.setattr(auth, "utcnow", lambda: start)
    sign_in(app, client, TOM)
    for days in range(1, 30):  # used every day: the idle lifetime never ends it
        monkeypatch.setattr(auth, "utcnow", lambda days=days: start + timedelta(days=days) - timedelta(seconds=1))
        assert client.get("/desk/").status_code == 200
    later = start + auth.SESSION_LIFETIME
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    response = client.get("/desk/")
    assert response.status_code == 302 and response.headers["Location"] == "/desk/sign-in"
    sign_in(app, client, TOM, now=later)  # a new sign-in starts a new thirty days
    assert client.get("/desk/").status_code == 200


def test_a_session_without_a_sign_in_time_is_over(app, client):
    sign_in(app, client, TOM)
    with client.session_transaction("/desk/") as session:
        del session["signed_in_at"]
    assert client.get("/desk/").status_code == 302
