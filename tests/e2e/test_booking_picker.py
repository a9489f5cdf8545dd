"""The booking picker on the consultation page: forms.js, GET /api/slots and booking by `slot`.

With the script the form shows a month calendar of the free times (the whole
horizon, asked a week at a time), in the visitor's own time zone, in place of
the preferred-date fields (which stay in the markup for visitors without it);
picking a day lists its times as buttons. Booking, the slot leaving the picker,
the conflict after someone else took a time, axe and the time-zone line run on
the real service (nginx -> gunicorn, conftest.py's `site_stack`). Only the
fallback (`/api/slots` unreachable, failing or empty) and the rendering of a
given list use a faked answer (`page.route`). The calendar's keyboard, roles,
phone and move-page journeys: test_calendar_picker.py.
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
from visitor import Prospect, fill, wait_for_lead

CONSULTATION = "/consultation/"
REPLACED = ("preferred_date", "preferred_time")
NONE_OF_THESE = "None of these times suit me"
TIMES = ".capture-picker__times [data-start]"
# Who can host a consultation (sales.yml, as deploy/env.example's CAPTURE_SALES points to it).
HOSTS = load_sales(ROOT / "sales.yml", ZoneInfo("Europe/London")).consultation.hosts

# Every time the calendar offers: each month, each marked day's times; then back to the first day.
WALK = """box => {
  const prev = box.querySelector('[aria-label="Previous month"]'), next = box.querySelector('[aria-label="Next month"]');
  const found = [];
  while (prev.getAttribute('aria-disabled') !== 'true') prev.click();
  for (;;) {
    for (const td of box.querySelectorAll('td.capture-cal__free')) {
      td.click();
      box.querySelectorAll('.capture-picker__times [data-start]').forEach(b => found.push(b.dataset.start));
    }
    if (next.getAttribute('aria-disabled') === 'true') break;
    next.click();
  }
  while (prev.getAttribute('aria-disabled') !== 'true') prev.click();
  box.querySelector('td.capture-cal__free').click();
  return found;
}"""


def consultation_form(page):
    return page.locator("form[data-capture-form=consultation]")


def time_buttons(box):
    """The chosen day's times (buttons) in a form's or the move page's calendar."""
    return box.locator(TIMES)


def offered(form) -> list[str]:
    """Every slot start the calendar offers, as the API sent them (walking month by month)."""
    box = form.locator(".capture-picker")
    expect(box.get_by_role("grid")).to_be_visible()
    return box.evaluate(WALK)


def pick(box, start: str) -> None:
    """With the mouse: the month buttons to `start`'s day, the day, then the time."""
    day = box.page.evaluate("s => { const d = new Date(s); return +new Date(d.getFullYear(), d.getMonth(), d.getDate()); }",
                            start)
    for _ in range(24):
        if box.locator(f"td[data-t='{day}']").count():
            break
        shown = int(box.locator("td[data-t]").first.get_attribute("data-t"))
        box.get_by_role("button", name="Next month" if day > shown else "Previous month").click()
    box.locator(f"td[data-t='{day}']").click()
    box.locator(f"{TIMES}[data-start='{start}']").click()
    expect(box.locator(f"{TIMES}[data-start='{start}']")).to_have_attribute("aria-pressed", "true")


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
    pick(form.locator(".capture-picker"), start)
    submit(form)
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    return wait_for_lead(stack, prospect.email)


# The keyboard, role-and-name, "Pick a time" and taken-time journeys (desktop and phone): test_calendar_picker.py.

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


def test_none_of_these_shows_the_preferred_date_fields_and_a_time_hides_them(site_stack, open_page):
    prospect = Prospect("pick-none")
    page = open_page(site_stack.site_url + CONSULTATION)
    sent = posts_to_the_form(page)
    form = consultation_form(page)
    box = form.locator(".capture-picker")
    offered(form)
    day = form.locator("[name=preferred_date]")
    expect(day).to_be_hidden()
    form.get_by_label(re.compile(NONE_OF_THESE)).check()
    expect(day).to_be_visible()
    expect(day).to_be_enabled()
    time_buttons(box).first.click()  # a time after all: the fields go, and are not sent
    expect(form.get_by_label(re.compile(NONE_OF_THESE))).not_to_be_checked()
    expect(day).to_be_hidden()
    expect(day).to_be_disabled()
    form.get_by_label(re.compile(NONE_OF_THESE)).check()  # and back: no time is sent, the fields are
    expect(time_buttons(box).first).to_have_attribute("aria-pressed", "false")
    fill(form, prospect, skip=("preferred_date",))
    day.fill(prospect.preferred_date)
    submit(form)
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    assert sent[0]["preferred_date"] == prospect.preferred_date and "slot" not in sent[0]
    assert wait_for_lead(site_stack, prospect.email)["spam"] is False


def test_the_picker_has_no_axe_violations(site_stack, open_page, axe_source):
    page = open_page(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    box = form.locator(".capture-picker")
    offered(form)
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe on the picker:\n{describe(violations)}"
    # A time picked; then "none of these" sent empty, so the date fields show with their problems.
    # (After "Pick a time" and a 409: test_calendar_picker.py.)
    time_buttons(box).first.click()
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
    box = form.locator(".capture-picker")
    starts = offered(form)
    expect(box).to_contain_text("Times shown in New York time.")
    first = datetime.fromisoformat(starts[0]).astimezone(zone)
    expect(box.locator(".capture-cal__month")).to_have_text(f"{first:%B} {first.year}")
    expect(box.locator("td[aria-selected=true]")).to_have_text(str(first.day))
    expect(box.locator(".capture-picker__on")).to_have_text(f"Times on {first:%A} {first.day} {first:%B}")
    for button in time_buttons(box).all()[:5]:
        local = datetime.fromisoformat(button.get_attribute("data-start")).astimezone(zone)
        assert local.date() == first.date()
        expect(button).to_have_text(local.strftime("%H:%M"))
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
    box = form.locator(".capture-picker")
    expect(box).to_be_visible()
    marked = box.locator("td.capture-cal__free")
    expect(marked).to_have_count(2)
    expect(marked.nth(0)).to_have_attribute("aria-label", "Tuesday 1 December, 1 free time")
    expect(marked.nth(1)).to_have_attribute("aria-label", "Wednesday 2 December, 2 free times")
    expect(box.locator(".capture-picker__on")).to_have_text("Times on Tuesday 1 December")
    expect(time_buttons(box)).to_have_text(["18:00"])
    marked.nth(1).click()
    expect(time_buttons(box)).to_have_text(["01:30", "02:00"])
    expect(box).to_contain_text("Times shown in Tokyo time.")
    expect(page.locator("#form-consultation-picker-live")).to_have_text("Wednesday 2 December, 2 free times.")
    # The picker asks the form's own API for the form's slots, a week at a time; the same
    # answer again (nothing new in the fourth week) ends the asking.
    assert all(re.fullmatch(re.escape(site_stack.api_url) + r"/api/slots\?form=consultation"
                            r"&from=\d{4}-\d{2}-\d{2}&days=7", url) for url in requests)
    assert len(requests) == 8
    assert offered(form) == [g["start"] for g in given]
