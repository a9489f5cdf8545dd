"""The desk on a phone (390×844), in a real browser on the deploy topology: the inbox and a lead page.

A prospect books a call through the API (as the site's script does). Its host signs in and, on a
phone: the inbox's filters wait behind one button; the lead's card keeps its labels and says the
call's time and host as its next step; nothing is wider than the screen. On the lead page the host
cancels the call (the booking module tells the calendars), and marks the lead won: "6,20" is
refused at the field with what was typed kept, "6.2k" is taken as £6,200. axe finds nothing at any
step. The inbox is saved as tests/artifacts/desk-inbox-phone.png (the handbook's picture).
"""
from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from test_no_show_journey import NAMES, book
from test_sales_journey import no_axe_violations, shot, sign_in

PHONE = {"width": 390, "height": 844}
WIDEST = "document.documentElement.scrollWidth"


def label_of(cell) -> str:
    """The text a card shows beside a cell's value (its ::before)."""
    return cell.evaluate("td => getComputedStyle(td, '::before').content").strip('"')


def test_the_inbox_and_a_lead_page_on_a_phone(site_stack, inbox, open_page, axe_source):
    lead_id = book(site_stack, "Ines Phone", f"ines.{uuid.uuid4().hex[:8]}@example.com")
    [lead] = site_stack.leads(id=lead_id)
    host = lead["owner"]
    desk = sign_in(site_stack, inbox, open_page, axe_source, host)
    desk.set_viewport_size(PHONE)
    desk.reload()

    # The filters fold behind one button; opening it shows them.
    filters = desk.locator("details.filter-box")
    expect(filters.locator("summary")).to_have_text("Filters")
    expect(desk.get_by_label("Search")).to_be_hidden()
    filters.locator("summary").click()
    expect(desk.get_by_label("Search")).to_be_visible()
    filters.locator("summary").click()

    # The lead's card: each value with its label, the call as the next step.
    card = desk.locator("tr", has=desk.locator(f'a[href="/desk/leads/{lead_id}"]'))
    step = card.locator('td[data-label="Next step"]')
    expect(step).to_contain_text(re.compile(rf"^Call \w{{3}}( \d+ \w{{3}})? \d\d:\d\d with {NAMES[host]}"))
    assert [label_of(card.locator("td").nth(i)) for i in range(5)] == [
        "Lead", "Status", "Next step", "Owner", "Received"]
    assert desk.evaluate(WIDEST) <= PHONE["width"]
    no_axe_violations(desk, axe_source)
    desk.screenshot(path=str(shot("desk-inbox-phone.png")), full_page=True)

    # The lead page: cancel the call from the desk.
    card.get_by_role("link").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Ines Phone")
    assert desk.evaluate(WIDEST) <= PHONE["width"]
    no_axe_violations(desk, axe_source)
    desk.locator("summary", has_text="Cancel the call").click()  # the disclosure: its button inside
    desk.get_by_role("button", name="Cancel the call").click()
    expect(desk.get_by_role("status")).to_contain_text("Cancelled: the visitor and the host have the cancellation.")
    expect(desk.locator(".step")).to_have_text(f"Cancelled by {NAMES[host]}")
    assert site_stack.leads(id=lead_id)[0]["status"] == "contacted"

    # Won: a bad amount is refused at the field, what was typed kept; "6.2k" is £6,200.
    desk.get_by_text("Won: record the deal").click()
    value = desk.get_by_label(re.compile("^Deal value"))
    value.fill("6,20")
    desk.get_by_role("button", name="Mark as won").click()
    value = desk.get_by_label(re.compile("^Deal value"))
    expect(value).to_have_value("6,20")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(desk.locator("#won-value-error")).to_contain_text("commas in odd places")
    expect(desk.locator("#won-value-error")).to_be_in_viewport()
    assert desk.evaluate(WIDEST) <= PHONE["width"]
    no_axe_violations(desk, axe_source)
    value.fill("6.2k")
    desk.get_by_role("button", name="Mark as won").click()
    expect(desk.get_by_role("status")).to_have_text("Marked as won.")
    expect(desk.locator("ol.timeline")).to_contain_text("contacted → won (£6,200)")
    stored = site_stack.leads(id=lead_id)[0]
    assert (stored["status"], stored["deal_value"]) == ("won", 620000)
