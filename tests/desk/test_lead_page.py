"""The desk's lead page (capture/desk/lead_page.py, erase_page.py): a status form per kind of move,
amounts as people type them, messages at their field with the input kept, erasing behind a
confirmation step, and speed to lead in the desk's one duration format."""
from __future__ import annotations

import re

import pytest

from capture.db.store import get_lead
from capture.pipeline import stages
from tests.desk.test_desk import MAYA, PRIYA, TOM, csrf, post, sign_in

pytestmark = pytest.mark.usefixtures("clock")


def form_of(page: str, opened_by: str) -> str:
    """The HTML of the status form or disclosure whose opening tag has `opened_by`."""
    start = page.index(opened_by)
    return page[start:page.index("</form>", start)]


@pytest.fixture
def seller(app, client, consultation):
    """Tom signed in on a new lead of his: (client, lead id, CSRF token)."""
    post(client, consultation)  # Maya's
    lead_id = post(client, consultation, email="bea@example.com")  # Tom's
    sign_in(app, client, TOM)
    return client, lead_id, csrf(client, f"/desk/leads/{lead_id}")


def test_each_move_shows_only_the_fields_it_needs_with_a_button_per_status(seller):
    client, lead_id, _ = seller
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    progress = form_of(page, 'id="progress"')
    assert 'name="value"' not in progress and 'name="reason"' not in progress and 'name="note"' in progress
    assert re.findall(r'name="status" value="(\w+)"', progress) == ["contacted", "consultation", "proposal"]
    won = form_of(page, '<details class="panel" id="won">')
    assert 'name="value"' in won and 'name="reason"' not in won and 'value="won"' in won
    lost = form_of(page, '<details class="panel" id="lost">')
    assert 'name="reason"' in lost and 'name="value"' not in lost and 'value="lost"' in lost
    assert "<select id=\"s-status\"" not in page  # no one form with every field at once


@pytest.mark.parametrize("typed, pence", [("6.2k", 620000), ("6,200", 620000), ("£6,200", 620000),
                                          ("6200.00", 620000), ("GBP 6,200.50", 620050), ("12K", 1200000)])
def test_won_takes_amounts_as_people_type_them(app, seller, typed, pence):
    client, lead_id, token = seller
    done = client.post(f"/desk/leads/{lead_id}/status", data={"status": "won", "value": typed, "csrf_token": token})
    assert done.status_code == 303
    lead = get_lead(app.extensions["capture"].engine, lead_id)
    assert (lead["status"], lead["deal_value"]) == ("won", pence)


@pytest.mark.parametrize("typed, says", [
    ("6,20", "commas in odd places"), ("lots", "not an amount in GBP"), ("€6,200", "not an amount in GBP"),
    ("6.255", "more than two decimals"), ("", "needs its deal value"), ("-5", "not an amount"),
])
def test_a_bad_amount_keeps_the_input_and_says_why_at_the_field(app, seller, typed, says):
    client, lead_id, token = seller
    refused = client.post(f"/desk/leads/{lead_id}/status",
                          data={"status": "won", "value": typed, "note": "Signed <today>", "csrf_token": token})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    won = form_of(page, '<details class="panel" id="won" open>')  # the won form is open again
    value = re.search(r'<input id="won-value"[^>]*>', won)[0]
    assert f'value="{typed}"' in value.replace("&#39;", "'").replace("&lt;", "<")  # as typed
    assert 'aria-invalid="true"' in value and "won-value-error" in value
    message = re.search(r'<p class="field-error" id="won-value-error">([^<]*)</p>', won)
    assert message and says in message[1].replace("&#39;", "'")
    assert "Signed &lt;today&gt;</textarea>" in won  # the note is kept too, escaped
    assert 'role="alert"' not in page  # not at the top of the page
    assert get_lead(app.extensions["capture"].engine, lead_id)["status"] == "new"


def test_lost_without_a_reason_says_so_at_the_reason_keeping_the_note(app, seller):
    client, lead_id, token = seller
    refused = client.post(f"/desk/leads/{lead_id}/status",
                          data={"status": "lost", "reason": "", "note": "They went quiet", "csrf_token": token})
    lost = form_of(refused.get_data(as_text=True), '<details class="panel" id="lost" open>')
    assert refused.status_code == 422 and 'id="lost-reason-error"' in lost and "needs a reason" in lost
    assert "They went quiet</textarea>" in lost
    other = client.post(f"/desk/leads/{lead_id}/status", data={"status": "lost", "reason": "other", "csrf_token": token})
    lost = form_of(other.get_data(as_text=True), '<details class="panel" id="lost" open>')
    assert 'id="lost-note-error"' in lost and '<option value="other" selected>' in lost


def test_moves_from_the_progress_form_keep_working(app, seller):
    client, lead_id, token = seller
    for status in ("contacted", "consultation", "proposal"):
        assert client.post(f"/desk/leads/{lead_id}/status",
                           data={"status": status, "csrf_token": token}).status_code == 303
    assert get_lead(app.extensions["capture"].engine, lead_id)["status"] == "proposal"
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert re.findall(r'name="status" value="(\w+)"', form_of(page, 'id="progress"')) == [
        "new", "contacted", "consultation"]


def test_speed_to_lead_reads_in_the_desks_one_format(app, client, clock, consultation):
    lead_id = post(client, consultation)
    clock.advance(minutes=95)
    sign_in(app, client, MAYA)
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert "Waiting for a first reply: 1 h 35 min of working time (1 h 35 min on the clock)" in page
    assert "Reply overdue: due" in page  # the next step, as the inbox says it
    stages.change_status(app.extensions["capture"].engine, app.extensions["capture"].sales, lead_id,
                         stages.Change("contacted"), MAYA)
    assert "First contact after 1 h 35 min of working time" in client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)


# --- the danger section ----------------------------------------------------------------------

def test_erasing_sits_apart_and_asks_to_confirm_on_its_own_page(app, client, consultation):
    lead_id = post(client, consultation)
    engine = app.extensions["capture"].engine
    sign_in(app, client, MAYA)
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    danger = page[page.index('<section class="panel danger"'):]
    assert "Danger zone" in danger and f'href="/desk/leads/{lead_id}/erase"' in danger
    assert page.index("Add the note") < page.index("Danger zone")  # not beside "Add a note"
    assert 'name="confirm"' not in page  # no erase form on the lead page itself
    confirm = client.get(f"/desk/leads/{lead_id}/erase")
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "cannot be undone" in text and 'name="confirm"' in text
    assert get_lead(engine, lead_id)["email"]  # looking changes nothing
    token = csrf(client, f"/desk/leads/{lead_id}/erase")
    unconfirmed = client.post(f"/desk/leads/{lead_id}/erase", data={"csrf_token": token})
    text = unconfirmed.get_data(as_text=True)
    assert unconfirmed.status_code == 422 and 'id="e-confirm-error"' in text and 'aria-invalid="true"' in text
    assert get_lead(engine, lead_id)["email"]
    done = client.post(f"/desk/leads/{lead_id}/erase", data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 303 and get_lead(engine, lead_id)["email"] is None


@pytest.mark.parametrize("who", [TOM, PRIYA])
def test_only_managers_see_the_danger_section_or_its_page(app, client, consultation, who):
    lead_id = post(client, consultation)
    sign_in(app, client, who)
    assert "Danger zone" not in client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert client.get(f"/desk/leads/{lead_id}/erase").status_code == 403
