"""Booking end to end in real browsers on the deploy topology: the race, the email, the cancel link.

Two visitors see the same last free host for a time; the first to send gets
it, the second is told it was just taken and books another without losing an
answer. The first then cancels from the link in their confirmation (the page
changes nothing until its button is pressed), and the time is offered again.
"""
from __future__ import annotations

import json
import urllib.request

from playwright.sync_api import expect

from test_booking_picker import REPLACED, consultation_form, offered, pick, submit
from test_sales_journey import link_in, no_axe_violations
from visitor import Prospect, fill, wait_for_lead

CONSULTATION = "/consultation/"


def post_booking(stack, start: str, email: str) -> int:
    """Someone else books `start` (through the API, as the site's script would)."""
    body = {"name": "Earlier Visitor", "email": email, "service": "business", "budget": "5k-10k",
            "consent": True, "meeting_kind": "video", "slot": start, "time_on_form": "60000",
            "message": f"Booked before the race ({email})."}
    request = urllib.request.Request(stack.api_url + "/api/forms/consultation", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_race_for_one_time_then_a_cancel_from_the_email_frees_it(site_stack, inbox, open_page, axe_source):
    first = consultation_form(open_page(site_stack.site_url + CONSULTATION))
    start = offered(first)[0]
    assert post_booking(site_stack, start, "earlier.visitor@example.com") == 201  # one host left for it

    # Two visitors, two browsers, the same time on offer to both.
    ada, bea = Prospect("race-a", name="Ada Byron"), Prospect("race-b", name="Bea Race")
    form_b = consultation_form(open_page(site_stack.site_url + CONSULTATION))
    assert start in offered(first) and start in offered(form_b)
    for form, prospect in ((first, ada), (form_b, bea)):
        fill(form, prospect, skip=REPLACED)
        pick(form.locator(".capture-picker"), start)
    submit(first)
    expect(first.get_by_role("status")).to_contain_text("Thank you, Ada")
    submit(form_b)
    expect(form_b.locator(".capture-picker")).to_contain_text("That time was just taken. Please pick another.")
    assert start not in offered(form_b)
    assert form_b.locator("[name=email]").input_value() == bea.email  # nothing lost
    form_b.locator(".capture-picker__taken [data-start]").first.click()  # the nearest free time
    submit(form_b)
    expect(form_b.get_by_role("status")).to_contain_text("Thank you, Bea")
    lead_a, lead_b = wait_for_lead(site_stack, ada.email), wait_for_lead(site_stack, bea.email)
    assert lead_a["status"] == lead_b["status"] == "consultation"

    # Ada cancels from her confirmation: the page first, then the button.
    [confirmation] = inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead_a["id"] and m.envelope_to == [ada.email])
    assert str(confirmation["Subject"]).startswith("Your free consultation is booked: ")
    page = open_page(link_in(confirmation, "Cancel the consultation"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel your consultation")
    no_axe_violations(page, axe_source)
    assert site_stack.leads(id=lead_a["id"])[0]["status"] == "consultation"
    page.get_by_role("button", name="Cancel the consultation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your consultation is cancelled")

    # Both she and her host are sent the cancellation, and the time is offered again.
    cancels = inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead_a["id"] and "ancel" in str(m["Subject"]), count=2)
    assert {tuple(m.envelope_to) for m in cancels} == {(ada.email,), (lead_a["owner"],)}
    again = consultation_form(open_page(site_stack.site_url + CONSULTATION))
    assert start in offered(again)
