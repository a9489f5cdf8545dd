"""The desk when things go wrong underneath: a database that does not answer, or comes back
after a restart, and lead ids that cannot exist.

Both databases. A database that is down is one the app cannot open (a server nobody listens on,
a 'file' that is a folder); a restart is every pooled PostgreSQL connection terminated.
"""
from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import text

from capture import create_app
from capture.pipeline import stages
from capture.pipeline import tray
from capture.desk import signin
from capture.core import tokens
from capture.db.engine import make_engine
from capture.db.store import new_lead_id
from tests.conftest import TEST_SECRET
from tests.desk.test_desk import CSRF, MAYA, csrf, post, sign_in

UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"


def unreachable(database_url: str, tmp_path) -> str:
    """A URL of the same kind as `database_url` that the app cannot open."""
    if database_url.startswith("postgresql"):
        return UNREACHABLE_PG
    (tmp_path / "db-is-a-folder").mkdir()
    return f"sqlite:///{tmp_path / 'db-is-a-folder'}"


def move_session(source, target) -> None:
    """Give `target` the session cookie of `source` (both apps share the secret key)."""
    cookie = source.get_cookie("fernleaf_desk")
    target.set_cookie("fernleaf_desk", cookie.value, domain=cookie.domain)


def assert_desk_503(response) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:500]
    # 60 s; on the sign-in form, Flask-Limiter (headers_enabled) raises it to its window's reset
    assert int(response.headers["Retry-After"]) >= 60
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Fernleaf desk" in body and "try again in a minute" in body


# --- the database is down: the desk's own 503, never a 500 ---------------------------------

SIGNED_IN = [("GET", "/desk/", {}), ("GET", "/desk/leads/{lead}", {}), ("GET", "/desk/report", {}),
             ("GET", "/desk/spam", {}), ("POST", "/desk/leads/{lead}/note", {"note": "Called back."}),
             ("POST", "/desk/leads/{lead}/status", {"status": "contacted"}), ("POST", "/desk/sign-out", {})]


@pytest.mark.parametrize("failing", ["session", "page"])
def test_every_desk_page_is_the_desks_503_while_the_database_is_down(make_app, database_url, tmp_path,
                                                                     consultation, caplog, monkeypatch, failing):
    """`session`: reading who is signed in fails first; `page`: the page's own queries do."""
    up = make_app()
    client = up.test_client()
    lead_id = post(client, consultation)
    sign_in(up, client, MAYA)
    token = csrf(client, "/desk/")
    down = make_app(database_url=unreachable(database_url, tmp_path), auto_migrate="0")
    if failing == "page":
        monkeypatch.setattr(signin, "signed_out_at", lambda engine, email: None)
    stranded = down.test_client()
    move_session(client, stranded)
    caplog.set_level(logging.INFO)
    for method, path, data in SIGNED_IN:
        response = stranded.open(path.format(lead=lead_id), method=method, data={**data, "csrf_token": token})
        assert_desk_503(response)
        assert response.headers["Retry-After"] == "60"
    assert "Traceback" not in caplog.text
    assert "OperationalError" in caplog.text  # the kind of failure is logged…
    for private in (MAYA, consultation["email"], consultation["name"], lead_id, token):
        assert private not in caplog.text  # …and nothing about anyone


def test_signing_in_and_the_email_pages_are_the_desks_503_while_the_database_is_down(
        make_app, database_url, tmp_path, caplog):
    down = make_app(database_url=unreachable(database_url, tmp_path), auto_migrate="0")
    client = down.test_client()
    assert client.get("/desk/sign-in").status_code == 200  # the form needs no database
    token = csrf(client)
    assert_desk_503(client.post("/desk/sign-in", data={"email": MAYA, "csrf_token": token}))
    link = f"/desk/sign-in/{tokens.sign_in_token(TEST_SECRET, 'a-link-id')}"
    assert_desk_503(client.post(link, data={"csrf_token": csrf(client, link)}))  # the link page's own token
    action = f"/actions/{tokens.action_token(TEST_SECRET, new_lead_id(), 'contacted', MAYA)}"
    assert_desk_503(client.get(action))
    assert "Traceback" not in caplog.text and MAYA not in caplog.text


def test_the_api_keeps_its_own_answer_while_the_database_is_down(make_app, database_url, tmp_path, consultation):
    down = make_app(database_url=unreachable(database_url, tmp_path), auto_migrate="0")
    response = down.test_client().post("/api/forms/consultation", json=consultation)
    assert response.status_code == 503 and "try again" in response.json["error"]


# --- a restart: the next desk requests work -------------------------------------------------

@pytest.fixture
def tagged_app(pg_url, tmp_path):
    """An app on PostgreSQL whose connections carry a name of their own, to terminate them."""
    tag = f"capture-desk-{uuid.uuid4().hex[:8]}"
    app = create_app({"database_url": f"{pg_url}&application_name={tag}", "secret_key": TEST_SECRET,
                      "ratelimit": "", "mail_url": f"file:{tmp_path / 'mail'}", "embedded_worker": "0",
                      "digest": "0"})
    yield app, tag
    app.extensions["capture"].engine.dispose()


def terminate(pg_url: str, tag: str) -> int:
    """What a PostgreSQL restart does to every pooled connection of the app tagged `tag`."""
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = :tag"), {"tag": tag}).scalar()
    admin.dispose()
    return killed


@pytest.mark.postgres
def test_after_every_pooled_connection_is_terminated_the_next_desk_requests_work(tagged_app, pg_url, consultation):
    app, tag = tagged_app
    engine = app.extensions["capture"].engine
    client = app.test_client()
    lead_id = post(client, consultation)
    sign_in(app, client, MAYA)
    token = CSRF.search(client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)).group(1)
    held = [engine.connect() for _ in range(4)]  # a pool of several connections, as a busy server has
    for conn in held:
        conn.execute(text("SELECT 1"))
        conn.close()
    assert terminate(pg_url, tag) >= 4
    assert client.get("/desk/").status_code == 200
    note = client.post(f"/desk/leads/{lead_id}/note", data={"note": "Called back.", "csrf_token": token})
    assert note.status_code == 303
    assert "Called back." in client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert client.get("/desk/report").status_code == 200
    assert terminate(pg_url, tag) >= 1
    assert client.get("/api/health").status_code == 200  # monitoring sees no outage that is over


# --- ids that cannot be a lead: 404, as GET answers -----------------------------------------

POSTS = {"status": {"status": "contacted"}, "note": {"note": "Called back."},
         "assign": {"owner": "tom@fernleaf.example"}, "spam": {}, "not-spam": {}, "erase": {"confirm": "yes"},
         "outcome": {"booking": "a\x00b", "outcome": "no_show"},
         "move-call": {"booking": "a\x00b", "slot": "2026-12-09T12:00:00Z"}, "cancel-call": {"booking": "a\x00b"}}
NO_SUCH_IDS = ["%00", "a%00b", "x" * 200, "0190a1b2c3d4" + "A" * 16]  # the last looks like an id


def test_every_post_route_on_a_lead_is_tested_below(app):
    routes = {rule.rule.rsplit("/", 1)[1] for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/desk/leads/<lead_id>/") and "POST" in rule.methods}
    assert routes == set(POSTS)


@pytest.mark.parametrize("action", POSTS)
def test_a_post_for_an_id_that_cannot_be_a_lead_is_a_404(app, client, consultation, action):
    post(client, consultation)
    sign_in(app, client, MAYA)  # a manager: every action is hers to take
    token = csrf(client, "/desk/")
    for lead_id in NO_SUCH_IDS:
        response = client.post(f"/desk/leads/{lead_id}/{action}", data={**POSTS[action], "csrf_token": token})
        assert response.status_code == 404, (lead_id, response.status_code)
        assert "There is no such lead" in response.get_data(as_text=True)


@pytest.mark.parametrize("lead_id", ["\x00", "a\x00b", "x" * 200, ""])
def test_the_pipeline_and_the_spam_tray_say_no_such_lead_for_an_impossible_id(app, lead_id):
    ext = app.extensions["capture"]
    changes = [lambda: stages.change_status(ext.engine, ext.sales, lead_id, stages.Change("contacted"), MAYA),
               lambda: stages.add_note(ext.engine, lead_id, "Called back.", MAYA),
               lambda: stages.assign(ext.engine, ext.sales, lead_id, MAYA, MAYA, ext.mail_domain),
               lambda: tray.hold(ext, lead_id, MAYA), lambda: tray.release(ext, lead_id, MAYA)]
    for change in changes:
        with pytest.raises(stages.NoSuchLead):
            change()
