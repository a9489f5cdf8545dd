"""A booked call moved (another host too) or cancelled from the desk (capture/desk/calls.py).

The booking package is the only writer (tests/test_owners.py scans for it): here the desk's
routes must do what every other caller of appointments.move and .cancel gets, the calendars'
updates and the webhooks, and nothing without a CSRF token or the role to change leads.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from capture.booking import appointments
from capture.booking.manage_view import slot_value
from capture.db.models import outbox
from capture.db.store import get_lead
from capture.pipeline import stages
from tests.booking.test_appointments import first_slots
from tests.desk.test_desk import CSRF, MAYA, PRIYA, sign_in
from tests.test_owners import _book, hooked_app  # noqa: F401  (fixture: Maya the only host, a webhook)

TOM = "tom@fernleaf.example"


def queued(app, lead_id: str) -> set[tuple[str, str, str]]:
    with app.extensions["capture"].engine.connect() as conn:
        return {(r.kind, r.recipient, r.ref) for r in conn.execute(
            select(outbox.c.kind, outbox.c.recipient, outbox.c.ref).where(outbox.c.lead_id == lead_id))}


def page_token(client, lead_id: str) -> tuple[str, str]:
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    return page, CSRF.search(page).group(1)


def booked(make_app) -> tuple:
    """Two hosts (Maya, then Tom); a visitor booked at the first free time; Maya signed in."""
    app = make_app()
    client = app.test_client()
    lead_id, made = _book(app)
    sign_in(app, client, MAYA)
    return app, client, lead_id, made


def test_the_desk_moves_a_call_to_another_time_and_host_through_the_booking_module(make_app, clock):
    app, client, lead_id, made = booked(make_app)
    other = TOM if made["host"] == MAYA else MAYA
    page, token = page_token(client, lead_id)
    assert "Move the call" in page and "Cancel the call" in page
    target = next(s for s in first_slots(client, days=14)[3:] if other in s.get("hosts", [other]))["start"]
    moved = client.post(f"/desk/leads/{lead_id}/move-call", data={
        "booking": made["id"], "slot": slot_value(datetime.fromisoformat(target)), "host": other, "csrf_token": token})
    assert moved.status_code == 303
    now = appointments.get(app.extensions["capture"].engine, made["id"])
    assert (now["host"], now["starts_at"].isoformat(), now["sequence"]) == (other, target, 1)
    assert get_lead(app.extensions["capture"].engine, lead_id)["owner"] == other  # the host owns the lead
    assert {(k, r, ref) for k, r, ref in queued(app, lead_id) if k == "booking_update"} >= {
        ("booking_update", other, f"{made['id']}:1:new-host"),
        ("booking_update", made["host"], f"{made['id']}:1:former-host"),
        ("booking_update", "v1@example.com", f"{made['id']}:1")}
    [event] = [e for e in stages.timeline(app.extensions["capture"].engine, lead_id) if e["kind"] == "booking"]
    assert event["actor"] == MAYA and event["note"].startswith("moved the consultation")
    assert "Moved:" in client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    # A time one host has taken, the other still free: asking for the busy one is refused at the field.
    second, start = _book_another(app)
    busy = appointments.current(app.extensions["capture"].engine, second)["host"]
    _, token = page_token(client, lead_id)
    refused = client.post(f"/desk/leads/{lead_id}/move-call", data={
        "booking": made["id"], "slot": slot_value(datetime.fromisoformat(start)), "host": busy, "csrf_token": token})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'id="slot-error"' in text and "That host is not free then" in text
    assert appointments.get(app.extensions["capture"].engine, made["id"])["sequence"] == 1


def test_the_same_host_at_the_same_time_changes_nothing_and_a_busy_host_is_said_at_the_field(hooked_app, clock):
    client = hooked_app.test_client()
    lead_id, made = _book(hooked_app)  # Maya, the only host
    second, _ = _book_another(hooked_app)
    sign_in(hooked_app, client, MAYA)
    _, token = page_token(client, lead_id)
    same = client.post(f"/desk/leads/{lead_id}/move-call", data={
        "booking": made["id"], "slot": slot_value(made["starts_at"]), "host": MAYA, "csrf_token": token})
    assert same.status_code == 303 and appointments.get(hooked_app.extensions["capture"].engine,
                                                        made["id"])["sequence"] == 0
    taken = appointments.current(hooked_app.extensions["capture"].engine, second)["starts_at"]
    clash = client.post(f"/desk/leads/{lead_id}/move-call", data={
        "booking": made["id"], "slot": slot_value(taken), "host": MAYA, "csrf_token": token})
    text = clash.get_data(as_text=True)
    assert clash.status_code == 409 and 'id="slot-error"' in text and "just taken" in text
    assert '<details class="panel" id="move" open>' in text
    assert appointments.get(hooked_app.extensions["capture"].engine, made["id"])["starts_at"] == made["starts_at"]


def _book_another(app):
    client = app.test_client()
    start = client.get("/api/slots?form=consultation&days=7").json["slots"][0]["start"]
    response = client.post("/api/forms/consultation", json={
        "name": "Visitor 2", "email": "v2@example.com", "service": "business", "budget": "5k-10k",
        "meeting_kind": "video", "consent": True, "slot": start, "message": "Our cafe needs a site.",
        "time_on_form": "60000"})
    return response.json["id"], start


def test_the_desk_cancels_a_call_and_calendars_and_webhooks_are_told(hooked_app, clock):
    client = hooked_app.test_client()
    lead_id, made = _book(hooked_app)
    sign_in(hooked_app, client, MAYA)
    _, token = page_token(client, lead_id)
    done = client.post(f"/desk/leads/{lead_id}/cancel-call", data={"booking": made["id"], "csrf_token": token})
    assert done.status_code == 303
    ended = appointments.get(hooked_app.extensions["capture"].engine, made["id"])
    assert (ended["status"], ended["sequence"]) == (appointments.CANCELLED, 1)
    assert {("booking_update", MAYA, f"{made['id']}:1"), ("booking_update", "v1@example.com", f"{made['id']}:1"),
            ("webhook", "crm", f"evt_{made['id']}.cancelled")} <= queued(hooked_app, lead_id)
    assert get_lead(hooked_app.extensions["capture"].engine, lead_id)["status"] == "contacted"
    assert "Cancelled by Maya" in client.get("/desk/?owner=").get_data(as_text=True)
    again = client.post(f"/desk/leads/{lead_id}/cancel-call", data={"booking": made["id"], "csrf_token": token})
    assert again.status_code == 303 and "cancelled already" in client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)


def test_no_change_without_csrf_the_role_or_the_leads_own_booking(make_app, clock):
    app, client, lead_id, made = booked(make_app)
    engine = app.extensions["capture"].engine
    assert client.post(f"/desk/leads/{lead_id}/cancel-call", data={"booking": made["id"]}).status_code == 400
    _, token = page_token(client, lead_id)
    other_lead, _ = _book_another(app)
    wrong = client.post(f"/desk/leads/{other_lead}/cancel-call", data={"booking": made["id"], "csrf_token": token})
    assert wrong.status_code == 404
    looker = app.test_client()
    sign_in(app, looker, PRIYA)
    page, token = page_token(looker, lead_id)
    assert "Move the call" not in page
    assert looker.post(f"/desk/leads/{lead_id}/cancel-call",
                       data={"booking": made["id"], "csrf_token": token}).status_code == 403
    assert appointments.get(engine, made["id"])["status"] == appointments.BOOKED


@pytest.mark.parametrize("slot", ["", "tomorrow", "9999-12-31T23:00:00Z"])
def test_a_time_that_is_no_offered_time_is_a_field_message(make_app, clock, slot):
    app, client, lead_id, made = booked(make_app)
    _, token = page_token(client, lead_id)
    refused = client.post(f"/desk/leads/{lead_id}/move-call",
                          data={"booking": made["id"], "slot": slot, "csrf_token": token})
    assert refused.status_code in (409, 422) and 'id="slot-error"' in refused.get_data(as_text=True)
    assert appointments.get(app.extensions["capture"].engine, made["id"])["sequence"] == 0
