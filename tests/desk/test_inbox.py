"""The desk's inbox (capture/desk/views.py, pipeline/search.py): its order, the next-step column,
and what a phone gets (the filters behind one button, cards that keep their labels).

Leads arrive at known moments on the injected clock (a Wednesday in London, GMT), with the
consultation form's promise of one working hour.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from capture.booking import appointments
from capture.core.clock import utcnow
from capture.db.store import get_lead
from capture.pipeline import search
from tests.booking.test_appointments import first_slots, visitor
from tests.desk.test_desk import MAYA, sign_in

pytestmark = pytest.mark.usefixtures("clock")
ROW = re.compile(r"<tr>\s*<td data-label=\"Lead\"><a href=\"/desk/leads/([^\"]+)\">", re.S)


def at(clock, hour: int, minute: int) -> datetime:
    return clock.set(datetime(2026, 12, 9, hour, minute, tzinfo=timezone.utc))


def arrive(client, clock, consultation, name: str, hour: int, minute: int) -> str:
    at(clock, hour, minute)
    response = client.post("/api/forms/consultation", json={**consultation, "name": name})
    assert response.status_code == 201
    return response.json["id"]


def inbox_ids(client, query: str = "owner=") -> list[str]:
    return ROW.findall(client.get(f"/desk/?{query}").get_data(as_text=True))


def test_overdue_first_longest_waiting_on_top_then_the_newest(app, client, clock, consultation):
    # Due 10:05, 11:00, 12:30 and 12:50 (one working hour each); at 12:10 the first two are overdue.
    first = arrive(client, clock, consultation, "Waited Longest", 9, 5)
    second = arrive(client, clock, consultation, "Waited Less", 10, 0)
    third = arrive(client, clock, consultation, "Fresh One", 11, 30)
    fourth = arrive(client, clock, consultation, "Freshest", 11, 50)
    at(clock, 12, 10)
    engine = app.extensions["capture"].engine
    assert [get_lead(engine, i)["respond_by"] < utcnow() for i in (first, second, third, fourth)] == [
        True, True, False, False]
    sign_in(app, client, MAYA)
    assert inbox_ids(client) == [first, second, fourth, third]
    found = search.find(engine, search.Filters(), now=utcnow())
    assert [(row["id"], row["overdue"]) for row in found] == [
        (first, True), (second, True), (fourth, False), (third, False)]
    page = client.get("/desk/?owner=").get_data(as_text=True)
    assert "Reply overdue: due 10:05" in page and "Reply due 12:50" in page
    assert "waiting 3 h 05 min of working time" in page  # 09:05 to 12:10, in the desk's one format


def test_a_booked_call_says_when_and_with_whom_and_a_cancelled_one_says_who_cancelled(app, client, clock):
    slot = first_slots(client)[0]
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slot["start"])).json["id"]
    ext = app.extensions["capture"]
    made = appointments.current(ext.engine, lead_id)
    host = {"maya@fernleaf.example": "Maya", "tom@fernleaf.example": "Tom"}[made["host"]]
    start = made["starts_at"].astimezone(ext.settings.timezone)
    sign_in(app, client, MAYA)
    page = client.get("/desk/?owner=").get_data(as_text=True)
    assert f"Call {start:%a %H:%M} with {host}" in page
    assert ">contacted<" not in page and "Waiting" not in page  # no "Waiting … contacted" for a booked lead
    appointments.cancel(ext.engine, ext.sales, made["id"], appointments.VISITOR, ext.mail_domain, utcnow())
    page = client.get("/desk/?owner=").get_data(as_text=True)
    row = page[page.index(f"/desk/leads/{lead_id}"):]
    row = row[:row.index("</tr>")]
    assert "Cancelled by the visitor" in row and ">consultation<" not in row and ">contacted<" in row


def test_on_a_phone_the_filters_wait_behind_one_button_and_cards_keep_their_labels(app, client, consultation):
    client.post("/api/forms/consultation", json=consultation)  # Maya's (the round robin starts with her)
    sign_in(app, client, MAYA)
    page = client.get("/desk/").get_data(as_text=True)
    box = re.search(r'<details class="panel filter-box"([^>]*)>\s*<summary>([^<]*)</summary>', page)
    assert box and box[1] == "" and box[2] == "Filters"  # closed: one button on a phone
    for label in ("Lead", "Status", "Next step", "Owner", "Received"):
        assert f'<td data-label="{label}">' in page
    assert "table.leads td::before { content: attr(data-label)" in page
    narrowed = client.get("/desk/?owner=&q=ada&overdue=1").get_data(as_text=True)
    box = re.search(r'<details class="panel filter-box"([^>]*)>\s*<summary>([^<]*)</summary>', narrowed)
    assert box[1] == " open" and box[2] == "Filters (3 on)"  # search, overdue and the owner (anyone)
