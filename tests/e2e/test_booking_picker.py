"""The booking picker on the consultation page: forms.js, GET /api/slots and booking by `slot`.

With the script the form shows the free slots as radios grouped by day, in the
visitor's own time zone, in place of the preferred-date fields (which stay in
the markup for visitors without it). Booking, the slot leaving the picker, the
conflict after someone else took a time, axe and the time-zone line run on the
real service (nginx -> gunicorn, conftest.py's `site_stack`). Only the fallback
(`/api/slots` unreachable, failing or empty) and the rendering of a given list
use a faked answer (`page.route`).
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from capture.schema.sales import load_sales
from e2e_stack import ROOT
from test_accessibility import axe_violations, describe
from visitor import Prospect, fill, tab_until, take_a_human_time, wait_for_lead

CONSULTATION = "/consultation/"
REPLACED = ("preferred_date", "preferred_time")
NONE_OF_THESE = "None of these times suit me"
# Who can host a consultation (sales.yml, as deploy/env.example's CAPTURE_SALES points to it).
HOSTS = load_sales(ROOT / "sales.yml", ZoneInfo("Europe/London")).consultation.hosts


def consultation_form(page):
    return page.locator("form[data-capture-form=consultation]")


def slot_radios(form):
    """The picker's radios for real slots (not the "none of these" choice)."""
    return form.locator(".capture-picker input[type=radio][name=slot]:not([value=''])")


def offered(form) -> list[str]:
    """The slot starts the picker offers, as the API sent them."""
    expect(form.locator(".capture-picker")).to_be_visible()
    return slot_radios(form).evaluate_all("els => els.map(el => el.value)")


def submit(form):
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()


def posts_to_the_form(page) -> list[dict]:
    """The form submissions the page sends, decoded, as they happen."""
    sent = []

    def record(request):
        if request.method == "POST" and "/api/forms/" in request.url:
            sent.append(dict(parse_qsl(request.post_data or "", keep_blank_values=True)))
    page.on("request", record)
    return sent


def slots_answer(route, slots: list[dict], status: int = 200):
    route.fulfill(status=status, content_type="application/json",
                  body=json.dumps({"timezone": "Europe/London", "length_minutes": 30, "slots": slots}))


@pytest.fixture
def open_in_zone(browser):
    """open_in_zone(url, zone) -> a page in a fresh context whose clock is in `zone`."""
    contexts = []

    def open_(url: str, zone: str, route=None):
        context = browser.new_context(locale="en-GB", timezone_id=zone,
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        if route:
            page.route("**/api/slots*", route)
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()


# --- with the real service ---------------------------------------------------------------

def bookings(stack, lead_id: str) -> list[dict]:
    """The bookings stored for a lead."""
    from sqlalchemy import select

    from capture.db.models import bookings as table
    with stack.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).where(table.c.lead_id == lead_id)).mappings()]


def book(stack, open_page, start: str, journey: str) -> dict:
    """A visitor books `start` with the mouse; their stored lead."""
    prospect = Prospect(journey)
    form = consultation_form(open_page(stack.site_url + CONSULTATION))
    assert start in offered(form)
    fill(form, prospect, skip=REPLACED)
    form.locator(f"input[name=slot][value='{start}']").check()
    submit(form)
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    return wait_for_lead(stack, prospect.email)


def test_a_visitor_books_a_slot_with_the_keyboard(site_stack, open_page):
    prospect = Prospect("pick-keys")
    page = open_page(site_stack.site_url + CONSULTATION)
    sent = posts_to_the_form(page)
    form = consultation_form(page)
    starts = offered(form)
    assert len(starts) >= 3, starts
    for name in REPLACED:  # the picker stands in for them
        expect(form.locator(f"[name={name}]")).to_be_hidden()
    expect(page.locator("#form-consultation-picker-live")).to_have_text(
        f"{len(starts)} free times to choose from.")
    fill(form, prospect, skip=REPLACED)

    # Tab from the field before the picker lands in the radio group; arrows move; Space picks.
    form.locator("[name=budget]").focus()
    page.keyboard.press("Tab")
    focused = "document.activeElement"
    assert page.evaluate(f"{focused}.type === 'radio' && {focused}.name === 'slot'")
    assert page.evaluate(f"{focused}.value") == starts[0]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    chosen = page.evaluate(f"{focused}.value")
    assert chosen == starts[2]
    expect(form.locator(f"input[name=slot][value='{chosen}']")).to_be_checked()
    tab_until(page, "el.type === 'submit' && el.form && el.form.id === 'form-consultation'", 8,
              "the submit button")
    take_a_human_time(page)
    page.keyboard.press("Enter")

    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    assert len(sent) == 1
    assert sent[0]["slot"] == chosen  # exactly as the API sent it
    assert not any(name in sent[0] for name in REPLACED)
    lead = wait_for_lead(site_stack, prospect.email)
    assert lead["spam"] is False and lead["service"] == prospect.service
    [booking] = bookings(site_stack, lead["id"])
    assert booking["status"] == "booked" and booking["host"] in HOSTS
    assert booking["starts_at"] == datetime.fromisoformat(chosen)
    assert lead["owner"] == booking["host"]


def test_a_slot_booked_for_every_host_is_not_offered_to_the_next_visitor(site_stack, open_page):
    # A time is offered while any host is free for it, so it goes once each host has it.
    # The last time offered: well away from the other tests' bookings (and their buffers).
    start = offered(consultation_form(open_page(site_stack.site_url + CONSULTATION)))[-1]
    hosts = set()
    for n, _ in enumerate(HOSTS):
        lead = book(site_stack, open_page, start, f"pick-all-{n}")
        [booking] = bookings(site_stack, lead["id"])
        assert booking["starts_at"] == datetime.fromisoformat(start)
        hosts.add(booking["host"])
    assert hosts == set(HOSTS)

    later = consultation_form(open_page(site_stack.site_url + CONSULTATION))
    assert start not in offered(later)


def test_a_slot_taken_meanwhile_is_refreshed_and_every_other_answer_kept(site_stack, open_page, axe_source):
    slow = Prospect("pick-slow")
    page = open_page(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    start = offered(form)[-4]
    fill(form, slow, skip=REPLACED)
    form.locator(f"input[name=slot][value='{start}']").check()
    # Meanwhile other visitors take that time with every host.
    for n, _ in enumerate(HOSTS):
        book(site_stack, open_page, start, f"pick-quick-{n}")

    submit(form)

    group = form.locator("#form-consultation-slot")
    expect(group).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#form-consultation-slot-error")).to_have_text(
        "That time was just taken. Please pick another.")
    expect(page.locator("#form-consultation-picker-live")).to_contain_text("just taken")
    expect(form.get_by_role("status")).to_have_attribute("data-state", "error")
    assert start not in offered(form)
    expect(slot_radios(form).first).to_be_focused()
    expect(form.locator("input[name=slot]:checked")).to_have_count(0)
    for name, value in slow.answers().items():
        if name not in REPLACED:
            expect(form.locator(f"[name={name}]")).to_have_value(value)
    expect(form.locator("[name=consent]")).to_be_checked()
    assert site_stack.leads(email=slow.email) == []
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe on the picker after a 409:\n{describe(violations)}"

    # Picking another time clears the problem and books it.
    other = slot_radios(form).first.get_attribute("value")
    slot_radios(form).first.check()
    expect(group).not_to_have_attribute("aria-invalid", "true")
    submit(form)
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    lead = wait_for_lead(site_stack, slow.email)
    assert bookings(site_stack, lead["id"])[0]["starts_at"] == datetime.fromisoformat(other)


def test_nothing_picked_asks_for_a_preferred_date_instead(site_stack, open_page):
    prospect = Prospect("pick-none")
    page = open_page(site_stack.site_url + CONSULTATION)
    sent = posts_to_the_form(page)
    form = consultation_form(page)
    offered(form)
    fill(form, prospect, skip=REPLACED)

    submit(form)  # nothing picked: the preferred-date fields come back, with their problems

    day = form.locator("[name=preferred_date]")
    expect(day).to_be_visible()
    expect(day).to_be_focused()
    expect(day).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label(re.compile(NONE_OF_THESE))).to_be_checked()
    assert sent == []
    day.fill(prospect.preferred_date)
    form.locator("[name=preferred_time]").select_option(prospect.preferred_time)
    submit(form)

    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    assert sent[0]["preferred_date"] == prospect.preferred_date and "slot" not in sent[0]
    lead = wait_for_lead(site_stack, prospect.email)
    assert lead["spam"] is False


def test_none_of_these_shows_the_preferred_date_fields_and_a_slot_hides_them(site_stack, open_page):
    form = consultation_form(open_page(site_stack.site_url + CONSULTATION))
    offered(form)
    day = form.locator("[name=preferred_date]")
    form.get_by_label(re.compile(NONE_OF_THESE)).check()
    expect(day).to_be_visible()
    expect(day).to_be_enabled()
    slot_radios(form).first.check()
    expect(day).to_be_hidden()
    expect(day).to_be_disabled()  # so it is not sent


def test_the_picker_has_no_axe_violations(site_stack, open_page, axe_source):
    page = open_page(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    offered(form)
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe on the picker:\n{describe(violations)}"
    # A time picked; then nothing picked and sent, so "none of these" and the date fields show
    # with their problems. (The picker with a 409's problem: the conflict test.)
    slot_radios(form).first.check()
    assert not axe_violations(page, axe_source)
    form.get_by_label(re.compile(NONE_OF_THESE)).check()
    submit(form)
    expect(form.locator("[name=preferred_date]")).to_have_attribute("aria-invalid", "true")
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe with the date fields back:\n{describe(violations)}"


def test_times_are_shown_in_the_visitors_own_time_zone(site_stack, open_in_zone):
    zone = ZoneInfo("America/New_York")
    page = open_in_zone(site_stack.site_url + CONSULTATION, "America/New_York")
    form = consultation_form(page)
    starts = offered(form)
    expect(form.locator(".capture-picker")).to_contain_text("Times shown in New York time.")
    for radio in slot_radios(form).all()[:5]:
        local = datetime.fromisoformat(radio.get_attribute("value")).astimezone(zone)
        label = radio.locator("xpath=ancestor::label[1]")
        expect(label).to_have_text(local.strftime("%H:%M"))
        legend = radio.locator("xpath=ancestor::fieldset[1]/legend")
        expect(legend).to_have_text(f"{local:%A} {local.day} {local:%B}")
    assert starts == sorted(starts, key=datetime.fromisoformat)


def test_a_site_on_another_origin_asks_the_api_origin(split_stack, open_page):
    # The static host's pages ask the API's origin, which lets the allowed site read the slots.
    page = open_page()
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/slots" in r.url else None)
    page.goto(split_stack.site_url + CONSULTATION)
    assert offered(consultation_form(page))
    assert asked and all(url.startswith(split_stack.api_url + "/api/slots?") for url in asked)
    # A site the API does not know cannot read them: its visitors get the date fields.
    stranger = open_page(split_stack.other_site_url + CONSULTATION)
    stranger.wait_for_load_state("networkidle")
    form = consultation_form(stranger)
    expect(form.locator("[name=preferred_date]")).to_be_visible()
    expect(form.locator(".capture-picker")).to_be_hidden()


# --- the fallback and the rendering of a given list (faked /api/slots) -----------------------

FALLBACKS = {
    "unreachable": lambda route: route.abort(),
    "server error": lambda route: route.fulfill(status=500, content_type="application/json",
                                               body='{"error": "Something broke"}'),
    "no free slots": lambda route: slots_answer(route, []),
}


@pytest.mark.parametrize("answer", FALLBACKS.values(), ids=FALLBACKS.keys())
def test_without_slots_the_preferred_date_fields_are_used(answer, site_stack, open_page):
    prospect = Prospect("pick-fallback")
    page = open_page()
    page.route("**/api/slots*", answer)
    page.goto(site_stack.site_url + CONSULTATION)
    sent = posts_to_the_form(page)
    form = consultation_form(page)
    page.wait_for_load_state("networkidle")

    expect(form.locator(".capture-picker")).to_be_hidden()
    for name in REPLACED:
        expect(form.locator(f"[name={name}]")).to_be_visible()
    expect(form.locator("[role=status]")).to_have_text("")  # nothing alarming
    fill(form, prospect)
    submit(form)

    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    assert sent[0]["preferred_date"] == prospect.preferred_date and "slot" not in sent[0]
    lead = wait_for_lead(site_stack, prospect.email)
    assert lead["spam"] is False


def test_the_preferred_date_fields_stay_while_slots_load(site_stack, open_page):
    page = open_page()
    page.route("**/api/slots*", lambda route: None)  # never answered
    page.goto(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    page.wait_for_timeout(500)
    expect(form.locator(".capture-picker")).to_be_hidden()
    for name in REPLACED:
        expect(form.locator(f"[name={name}]")).to_be_visible()


def test_slots_are_grouped_by_the_visitors_own_day(site_stack, open_in_zone):
    # 16:30 and 17:00 in London on a Tuesday are 01:30 and 02:00 on Wednesday in Tokyo.
    given = [{"start": s, "end": e} for s, e in (
        ("2026-12-01T09:00:00+00:00", "2026-12-01T09:30:00+00:00"),
        ("2026-12-01T16:30:00+00:00", "2026-12-01T17:00:00+00:00"),
        ("2026-12-01T17:00:00+00:00", "2026-12-01T17:30:00+00:00"))]
    requests = []

    def answer(route):
        requests.append(route.request.url)
        slots_answer(route, given)

    page = open_in_zone(site_stack.site_url + CONSULTATION, "Asia/Tokyo", route=answer)
    form = consultation_form(page)
    expect(form.locator(".capture-picker")).to_be_visible()
    days = form.locator(".capture-picker__days fieldset")
    expect(days).to_have_count(2)
    expect(days.nth(0).locator("legend")).to_have_text("Tuesday 1 December")
    expect(days.nth(0).locator("label")).to_have_text(["18:00"])
    expect(days.nth(1).locator("legend")).to_have_text("Wednesday 2 December")
    expect(days.nth(1).locator("label")).to_have_text(["01:30", "02:00"])
    expect(form.locator(".capture-picker")).to_contain_text("Times shown in Tokyo time.")
    expect(page.locator("#form-consultation-picker-live")).to_have_text("3 free times to choose from.")
    # The picker asks the form's own API for the form's slots.
    assert re.fullmatch(re.escape(site_stack.api_url) + r"/api/slots\?form=consultation"
                        r"&from=\d{4}-\d{2}-\d{2}&days=\d+", requests[0])
    assert slot_radios(form).evaluate_all("els => els.map(el => el.value)") == [g["start"] for g in given]
