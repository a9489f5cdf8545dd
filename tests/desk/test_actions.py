"""One-click pages from sales emails: a GET shows and changes nothing; a POST acts, once."""
from __future__ import annotations

import re

import pytest

from capture.pipeline import stages
from capture.core import tokens
from capture.db.store import get_lead
from capture.delivery.worker import Worker
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SALES = "sales@fernleaf.example"


def new_lead(client, consultation) -> str:
    return client.post("/api/forms/consultation", json=consultation).json["id"]


def url(app, lead_id: str, action: str, recipient: str = SALES) -> str:
    return f"/actions/{tokens.action_token(app.config['SECRET_KEY'], lead_id, action, recipient)}"


def press(client, path: str, **fields):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={**fields, "csrf_token": CSRF.search(page.get_data(as_text=True)).group(1)})


def state(app, lead_id: str):
    engine = app.extensions["capture"].engine
    return get_lead(engine, lead_id)["status"], stages.timeline(engine, lead_id)


def test_the_notification_carries_every_action_in_text_and_html(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = new_lead(app.test_client(), consultation)
    Worker(app.extensions["capture"]).run_once()
    mail = next(m.message for m in smtp_sink.messages if m.recipients == [SALES])
    text, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    assert f"Open the lead in the desk: http://127.0.0.1:8000/desk/leads/{lead_id}" in text
    # The actions that fit a new request, the main one first (pipeline/team_mail.py), each a line.
    found = re.findall(r"^(?:Next step: |  )([^:\n]+): http://127\.0\.0\.1:8000(/actions/\S+)\r?$", text, re.M)
    labels = [label for label, _ in found]
    # A request for a time nobody has answered: book that time first, else answer, or close it.
    assert labels == ["Book the time they asked for", tokens.ACTIONS["contacted"], tokens.ACTIONS["lost"]]
    for _, path in found:
        assert f'href="http://127.0.0.1:8000{path}"' in html
        assert tokens.read_action(app.config["SECRET_KEY"], path.rsplit("/", 1)[1]).recipient == SALES


def test_opening_a_link_changes_nothing_pressing_the_button_changes_it_once(app, client, consultation):
    lead_id = new_lead(client, consultation)
    path = url(app, lead_id, "contacted")
    for _ in range(3):  # a mail scanner, a preview, the person
        page = client.get(path)
        assert page.status_code == 200 and "Mark as contacted?" in page.get_data(as_text=True)
    assert state(app, lead_id) == ("new", [])
    page = client.get(path).get_data(as_text=True)
    token = CSRF.search(page).group(1)
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "Done" in done.get_data(as_text=True)
    again = client.post(path, data={"csrf_token": token})  # the same page, pressed twice
    assert "Already done" in again.get_data(as_text=True)
    assert "Already done" in client.get(path).get_data(as_text=True)  # no button any more
    status, events = state(app, lead_id)
    assert status == "contacted" and [(e["to_status"], e["actor"]) for e in events] == [("contacted", SALES)]
    assert get_lead(app.extensions["capture"].engine, lead_id)["first_contact_at"] is not None
    assert f'href="/desk/leads/{lead_id}"' in done.get_data(as_text=True)


def test_a_post_without_the_csrf_token_changes_nothing(app, client, consultation):
    lead_id = new_lead(client, consultation)
    client.get(url(app, lead_id, "contacted"))
    response = client.post(url(app, lead_id, "contacted"))
    assert response.status_code == 400 and state(app, lead_id) == ("new", [])


def test_won_asks_for_the_value_and_lost_for_a_reason(app, client, consultation):
    lead_id = new_lead(client, consultation)
    missing = press(client, url(app, lead_id, "won"))
    assert missing.status_code == 422 and "needs its deal value" in missing.get_data(as_text=True)
    foreign = press(client, url(app, lead_id, "won"), value="€12,000")
    assert foreign.status_code == 422 and "in GBP" in foreign.get_data(as_text=True)
    huge = press(client, url(app, lead_id, "won"), value="9" * 30)
    assert huge.status_code == 422 and "more than any deal" in huge.get_data(as_text=True)
    assert press(client, url(app, lead_id, "won"), value="12,000").status_code == 200
    lead = get_lead(app.extensions["capture"].engine, lead_id)
    assert (lead["status"], lead["deal_value"]) == ("won", 1200000)
    other_lead = new_lead(client, consultation)
    other = press(client, url(app, other_lead, "lost"), reason="other")
    assert other.status_code == 422 and "say in a note" in other.get_data(as_text=True)
    assert press(client, url(app, other_lead, "lost"), reason="price").status_code == 200
    assert get_lead(app.extensions["capture"].engine, other_lead)["lost_reason"] == "price"


def test_an_old_email_button_never_moves_a_lead_back(app, client, consultation):
    lead_id = new_lead(client, consultation)
    contacted = url(app, lead_id, "contacted")
    token = CSRF.search(client.get(contacted).get_data(as_text=True)).group(1)
    assert press(client, url(app, lead_id, "won"), value="8500").status_code == 200
    for response in (client.get(contacted), client.post(contacted, data={"csrf_token": token}),
                     client.get(url(app, lead_id, "lost"))):
        assert "Already done" in response.get_data(as_text=True)
    lead = get_lead(app.extensions["capture"].engine, lead_id)
    assert (lead["status"], lead["deal_value"]) == ("won", 850000)


@pytest.mark.parametrize("recipient, allowed", [
    ("sales@fernleaf.example", True),   # the form's sales inbox
    ("tom@fernleaf.example", True),     # a salesperson
    ("priya@fernleaf.example", False),  # marketing looks, does not change
    ("gone@fernleaf.example", False),   # not (or no longer) on the team, no inbox of this form
    ("hello@fernleaf.example", False),  # the contact form's inbox, not this consultation's
])
def test_a_link_works_only_for_someone_who_may_change_leads_now(app, client, consultation, recipient, allowed):
    lead_id = new_lead(client, consultation)
    path = url(app, lead_id, "contacted", recipient)
    page = client.get(path)
    assert page.status_code == (200 if allowed else 403)
    if not allowed:
        assert "cannot change leads now" in page.get_data(as_text=True)
        assert client.post(path).status_code in (400, 403)
        assert state(app, lead_id) == ("new", [])


@pytest.mark.parametrize("damage", [lambda t: t[:-3] + "abc", lambda t: t + "x", lambda t: "x" + t[1:],
                                    lambda t: t.split(".")[0]])
def test_a_tampered_token_gets_a_clear_page_never_a_change(app, client, consultation, damage):
    lead_id = new_lead(client, consultation)
    path = "/actions/" + damage(url(app, lead_id, "contacted").rsplit("/", 1)[1])
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code in (400, 404)
    assert state(app, lead_id) == ("new", [])


def test_a_token_made_with_another_key_or_for_another_action_is_refused(app, client, consultation):
    lead_id = new_lead(client, consultation)
    forged = tokens.action_token("some-other-secret-0123456789", lead_id, "contacted", SALES)
    assert client.get(f"/actions/{forged}").status_code == 404
    # The token names its action and lead: a "won" token can't be turned into another lead's "lost".
    other = new_lead(client, consultation)
    payload = url(app, other, "won").rsplit("/", 1)[1]
    assert tokens.read_action(app.config["SECRET_KEY"], payload).lead_id == other
    with pytest.raises(ValueError):
        tokens.action_token(app.config["SECRET_KEY"], lead_id, "erase", SALES)


def test_an_expired_token_gets_a_clear_page(clock, app, client, consultation):
    lead_id = new_lead(client, consultation)
    path = url(app, lead_id, "contacted")
    clock.advance(days=31)
    response = client.get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert state(app, lead_id) == ("new", [])


def test_a_link_shows_only_its_own_lead_and_never_spam(app, client, consultation):
    mine = new_lead(client, consultation)
    other = client.post("/api/forms/consultation", json={**consultation, "name": "Someone Else"}).json["id"]
    page = client.get(url(app, mine, "contacted")).get_data(as_text=True)
    assert "Ada Lovelace" in page and "Someone Else" not in page and other not in page
    spam = client.post("/api/forms/consultation", json={**consultation, "fax": "x"}).json["id"]
    assert client.get(url(app, spam, "contacted")).status_code == 404


def test_action_pages_are_private_and_leak_no_referrer(app, client, consultation):
    response = client.get(url(app, new_lead(client, consultation), "contacted"))
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "strict-origin"  # the origin, never the token path
