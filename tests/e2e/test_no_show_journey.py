"""A no-show, recorded by the host from the after-meeting email in a real browser, on the deploy topology.

A prospect books through the API (as the site's script does). The servers run on the machine's
clock, so the test moves the meeting into the past rather than moving time, and queues the host's
question as the worker's periodic look does (that look itself is tested with an injected clock in
tests/booking/test_aftercare.py); the running worker sends it to the real inbox. Its "They did not
show" link shows the meeting and one button and changes nothing until pressed; then the lead is back
at `contacted`, and the desk's lead page shows the no-show on the meeting and the timeline.
"""
from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect
from sqlalchemy import update

from capture.booking import aftercare
from capture.db.models import bookings
from test_sales_journey import link_in, no_axe_violations, shot, sign_in

NAMES = {"maya@fernleaf.example": "Maya", "tom@fernleaf.example": "Tom"}


def book(stack, name: str, email: str) -> str:
    """A consultation booked at the last free time offered (other journeys take the first ones)."""
    with urllib.request.urlopen(stack.api_url + "/api/slots?form=consultation&days=21", timeout=10) as response:
        start = json.load(response)["slots"][-1]["start"]
    body = {"name": name, "email": email, "service": "business", "budget": "5k-10k", "consent": True,
            "meeting_kind": "phone", "phone": "+44 20 7946 0018",
            "slot": start, "time_on_form": "60000", "message": "A new site for our bakery, please."}
    request = urllib.request.Request(stack.api_url + "/api/forms/consultation", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)["id"]


def test_the_host_records_a_no_show_from_the_email_and_the_desk_shows_it(site_stack, inbox, open_page, axe_source):
    lead_id = book(site_stack, "Nora Absent", f"nora.{uuid.uuid4().hex[:8]}@example.com")
    [lead] = site_stack.leads(id=lead_id)
    host = lead["owner"]
    assert lead["status"] == "consultation" and host in NAMES

    # The meeting was two hours ago; the worker's look for ended meetings finds it.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with site_stack.engine.begin() as conn:
        conn.execute(update(bookings).where(bookings.c.lead_id == lead_id).values(
            starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1, minutes=30)))
    assert aftercare.queue(site_stack.engine, "fernleaf.example", now) >= 1
    [question] = inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead_id and m.envelope_to == [host]
                                and str(m["Subject"]) == "How did your call with Nora Absent go?")

    # The link shows the meeting and one button; opening it records nothing.
    page = open_page(link_in(question, "They did not show"))
    expect(page.get_by_role("heading", level=1)).to_have_text("They did not show?")
    expect(page.locator("main")).to_contain_text("Nora Absent")
    no_axe_violations(page, axe_source)
    assert site_stack.leads(id=lead_id)[0]["status"] == "consultation"
    page.get_by_role("button", name="They did not show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recorded")
    expect(page.locator("main")).to_contain_text("contacted")
    no_axe_violations(page, axe_source)
    assert site_stack.leads(id=lead_id)[0]["status"] == "contacted"

    # The desk shows it: on the meeting, and on the timeline with the status it brought back.
    desk = sign_in(site_stack, inbox, open_page, axe_source, host)
    desk.goto(site_stack.site_url + f"/desk/leads/{lead_id}")
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Nora Absent")
    expect(desk.locator("main")).to_contain_text(f"Recorded as a no-show by {NAMES[host]}")
    timeline = desk.locator("ol.timeline")
    expect(timeline).to_contain_text("No-show")
    expect(timeline).to_contain_text("consultation → contacted")
    expect(desk.get_by_role("button", name="It was held")).to_be_visible()  # a changed mind is one click
    no_axe_violations(desk, axe_source)
    desk.screenshot(path=str(shot("desk-no-show.png")), full_page=True)
