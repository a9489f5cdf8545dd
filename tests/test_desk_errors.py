"""The desk when things go wrong underneath: lead ids that cannot exist."""
from __future__ import annotations

import pytest

from capture import pipeline, quarantine
from tests.test_desk import MAYA, csrf, post, sign_in

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
