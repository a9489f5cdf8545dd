"""The pages a visitor opens from their booking email, in real browsers on the deploy topology.

The bookings are made through the API (the consultation page's picker has its own journeys);
everything after is the visitor's: the email, the link, the page in the site's own header and
footer, on a desktop and on a phone (390×844), axe clean at each step.
"""
from __future__ import annotations

import urllib.request
import json
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from capture.db.models import bookings
from test_booking_journey import post_booking
from test_accessibility import describe
from test_sales_journey import link_in
from visitor import wait_for_lead

PHONE = {"width": 390, "height": 844}
NAMES = {"maya@fernleaf.example": "Maya Patel", "tom@fernleaf.example": "Tom Reid"}


def offered(stack, days: int = 21) -> list[str]:
    with urllib.request.urlopen(f"{stack.api_url}/api/slots?form=consultation&days={days}", timeout=10) as answer:
        return [slot["start"] for slot in json.load(answer)["slots"]]


def as_value(start: str) -> str:
    """The API's start as the manage page's radio value (UTC with a Z)."""
    return f"{datetime.fromisoformat(start).astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


def booked(stack, inbox, start: str, email: str) -> tuple[dict, dict, object]:
    """(lead, its booking, the visitor's confirmation) for a booking made at `start`."""
    assert post_booking(stack, start, email) == 201
    lead = wait_for_lead(stack, email)
    with stack.engine.connect() as conn:
        made = dict(conn.execute(select(bookings).where(bookings.c.lead_id == lead["id"])).mappings().one())
    [confirmation] = inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead["id"] and m.envelope_to == [email])
    return lead, made, confirmation


def no_axe_violations(page, axe_source: str) -> None:
    """axe clean, the site's phone menu aside when the page is phone-sized.

    That menu (Material's drawer, in every page of the site) has nested menus that share a
    name at phone width (landmark-unique, on the site's home page too); it is the site's own,
    checked with the site's pages. Everything else on the page is checked.
    """
    page.add_script_tag(content=axe_source)
    phone = page.viewport_size["width"] < 600
    violations = page.evaluate("""async (phone) => {
        const context = phone ? {exclude: [[".md-sidebar--primary"]]} : document;
        const result = await axe.run(context, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}));
    }""", phone)
    assert violations == [], f"{page.url}\n{describe(violations)}"


def in_the_sites_page(page) -> None:
    """The site's own header (with its call to action), footer and style sheets, and nothing from elsewhere."""
    expect(page.locator("header.md-header")).to_be_visible()
    expect(page.locator("footer.md-footer")).to_contain_text("Fernleaf Studio")
    assert page.evaluate("[...document.styleSheets].some(s => /main\\.[0-9a-f]+\\.min\\.css/.test(s.href))")
    origin = page.evaluate("location.origin")
    loaded = page.evaluate("performance.getEntriesByType('resource').map(r => r.name)")
    assert all(url.startswith(origin) for url in loaded), loaded


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_moving_to_a_time_the_host_is_busy_hands_the_meeting_over_and_says_so(
        site_stack, inbox, open_page, axe_source, viewport):
    suffix = "phone" if viewport else "desktop"
    times = offered(site_stack)
    first, later = times[-1], times[-6]
    lead, made, confirmation = booked(site_stack, inbox, first, f"move.{suffix}@example.com")
    # Someone else is booked with this visitor's host at the later time; the other host is free then.
    other, _, _ = booked(site_stack, inbox, later, f"busy.{suffix}@example.com")
    with site_stack.engine.begin() as conn:
        conn.execute(update(bookings).where(bookings.c.lead_id == other["id"]).values(host=made["host"]))
    new_host = next(h for h in NAMES if h != made["host"])

    # The page as every browser gets it: the site's script (the picker's month grid) is blocked
    # rather than JavaScript turned off, so axe can still run.
    page = open_page()
    page.route("**/forms.js", lambda route: route.abort())
    if viewport:
        page.set_viewport_size(viewport)
    page.goto(link_in(confirmation, "Change the time"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Move your consultation")
    in_the_sites_page(page)
    expect(page.get_by_role("link", name="Keep my booking")).to_be_visible()
    no_axe_violations(page, axe_source)
    # The first day is open and the button is in view without scrolling past every time.
    button = page.get_by_role("button", name="Move to this time")
    assert page.locator("details[open]").count() == 1
    assert button.bounding_box()["y"] < page.viewport_size["height"]
    value = as_value(later)
    page.locator(f"details:has(input[value='{value}']) > summary").click()
    page.locator(f"input[name=slot][value='{value}']").check()
    button.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your consultation has a new time")
    expect(page.locator("main")).to_contain_text(
        f"Your meeting is now with {NAMES[new_host]}, as {NAMES[made['host']]} is not free then.")
    in_the_sites_page(page)
    no_axe_violations(page, axe_source)
    with site_stack.engine.connect() as conn:
        moved = conn.execute(select(bookings).where(bookings.c.id == made["id"])).mappings().one()
    assert (moved["host"], moved["status"], moved["sequence"]) == (new_host, "booked", 1)


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_keep_then_cancel_with_a_reason_then_book_a_new_time(site_stack, inbox, open_page, axe_source, viewport):
    suffix = "phone" if viewport else "desktop"
    lead, made, confirmation = booked(site_stack, inbox, offered(site_stack)[-2], f"cancel.{suffix}@example.com")
    page = open_page()
    if viewport:
        page.set_viewport_size(viewport)
    page.goto(link_in(confirmation, "Cancel the consultation"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel your consultation")
    in_the_sites_page(page)
    no_axe_violations(page, axe_source)

    page.get_by_role("link", name="Keep my booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your consultation stands")
    no_axe_violations(page, axe_source)
    page.go_back()

    page.get_by_label("Anything you would like to tell us?").fill("We chose <another> studio, sorry & thanks")
    page.get_by_role("button", name="Cancel the consultation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your consultation is cancelled")
    no_axe_violations(page, axe_source)
    with site_stack.engine.connect() as conn:
        ended = conn.execute(select(bookings).where(bookings.c.id == made["id"])).mappings().one()
    assert (ended["status"], ended["cancel_reason"]) == ("cancelled", "We chose <another> studio, sorry & thanks")

    page.get_by_role("link", name="Book a new time").click()
    expect(page).to_have_url(site_stack.site_url + "/consultation/")
    expect(page.locator("form[data-capture-form=consultation]")).to_be_visible()
