"""The desk when things go wrong underneath: a database that comes back after a restart, and lead
ids that cannot exist.

A restart is every pooled PostgreSQL connection terminated.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from capture import create_app, pipeline, quarantine
from capture.store import make_engine
from tests.conftest import TEST_SECRET
from tests.test_desk import CSRF, MAYA, csrf, post, sign_in

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
    admin = make_engine(pg_url)
    with admin.begin() as conn:  # what a PostgreSQL restart does to every pooled connection
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = :tag"), {"tag": tag}).scalar()
    admin.dispose()
    assert killed >= 4
    assert client.get("/desk/").status_code == 200
    note = client.post(f"/desk/leads/{lead_id}/note", data={"note": "Called back.", "csrf_token": token})
    assert note.status_code == 303
    assert "Called back." in client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert client.get("/desk/report").status_code == 200


# --- ids that cannot be a lead: 404, as GET answers -----------------------------------------

POSTS = {"status": {"status": "contacted"}, "note": {"note": "Called back."},
         "assign": {"owner": "tom@fernleaf.example"}, "spam": {}, "not-spam": {}, "erase": {"confirm": "yes"}}
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
    changes = [lambda: pipeline.change_status(ext.engine, ext.sales, lead_id, pipeline.Change("contacted"), MAYA),
               lambda: pipeline.add_note(ext.engine, lead_id, "Called back.", MAYA),
               lambda: pipeline.assign(ext.engine, ext.sales, lead_id, MAYA, MAYA),
               lambda: quarantine.hold(ext, lead_id, MAYA), lambda: quarantine.release(ext, lead_id, MAYA)]
    for change in changes:
        with pytest.raises(pipeline.NoSuchLead):
            change()
