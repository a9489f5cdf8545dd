"""The calendar picker (forms.js) as visitors meet it, on a desktop (1366×900) and a phone (390×844).

On the real service (`site_stack`): booking with the keyboard alone, booking
through roles and names only (what a screen reader exposes), "Pick a time"
when nothing is picked, the race for a time someone else just took, every free
time of the horizon reachable month by month, and the taps a phone visitor
needs. With faked answers (`page.route`): the grid's keys across months, the
"Booked" card, and the move page's contract (its radios feed the calendar),
on a fixture page served at the site's origin.
"""
from __future__ import annotations

import json
import re
import urllib.request
from datetime import datetime
from urllib.parse import parse_qsl

import pytest
from playwright.sync_api import expect

from test_accessibility import describe
from test_booking_journey import post_booking
from test_booking_picker import (CONSULTATION, HOSTS, REPLACED, bookings, consultation_form, offered, pick,
                                 posts_to_the_form, slots_answer, submit, time_buttons)
from visitor import Prospect, fill, tab_until, take_a_human_time, wait_for_lead

DEVICES = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}
FOCUSED_IN_VIEW = """() => {
  const r = document.activeElement.getBoundingClientRect(), header = document.querySelector('.md-header');
  const top = header ? header.getBoundingClientRect().bottom : 0;
  return r.top >= top - 1 && r.bottom <= innerHeight + 1 && r.width > 0;
}"""
FOCUSED = "document.activeElement"


@pytest.fixture(params=list(DEVICES))
def device(request, browser):
    """device(url) -> a page on a desktop or a phone, in a fresh context (London clock, en-GB)."""
    contexts = []

    def open_(url: str | None = None):
        context = browser.new_context(locale="en-GB", timezone_id="Europe/London", **DEVICES[request.param])
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        if url:
            page.goto(url)
        return page

    open_.name = request.param
    yield open_
    for context in contexts:
        context.close()


def axe_on(page, axe_source, where: str = ".md-content") -> list[dict]:
    """axe on the whole page on a desktop; on a phone on its content (the calendar, the card), as
    Material's drawer there has a finding of its own (landmark-unique, the site chrome's)."""
    if page.viewport_size["width"] > 600:
        where = "html"
    page.add_script_tag(content=axe_source)
    return page.evaluate("""async where => {
        const result = await axe.run(document.querySelector(where), {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}));
    }""", where)


def picker(form):
    box = form.locator(".capture-picker")
    expect(box.get_by_role("grid")).to_be_visible()
    return box


def focused_is(page, test_js: str) -> bool:
    return page.evaluate(f"(() => {{ const el = {FOCUSED}; return !!el && ({test_js}); }})()")


# --- on the real service ------------------------------------------------------------------------

def test_a_visitor_books_with_the_keyboard_alone(site_stack, device):
    prospect = Prospect(f"cal-keys-{device.name}")
    page = device(site_stack.site_url + CONSULTATION)
    sent = posts_to_the_form(page)
    form = consultation_form(page)
    box = picker(form)
    for name in REPLACED:  # the picker stands in for them
        expect(form.locator(f"[name={name}]")).to_be_hidden()
    form.locator("[name=name]").focus()
    for name, value in prospect.answers().items():  # typed, field after field, with Tab
        if name in REPLACED:
            continue
        assert focused_is(page, f"el.name === {name!r}"), name
        if name in ("service", "budget"):
            form.locator(f"[name={name}]").select_option(value)  # (a select's own keys: visitor.py)
        else:
            page.keyboard.type(value)
        if name == "budget":
            break
        page.keyboard.press("Tab")
    # Into the calendar: the month buttons, then the grid's one tab stop, the first free day.
    tab_until(page, "el.tagName === 'TD'", 4, "the calendar grid")
    first_day = page.evaluate(f"{FOCUSED}.dataset.t")
    assert page.evaluate(f"{FOCUSED}.getAttribute('aria-selected')") == "true"
    # Arrow keys to the next day with free times; Enter picks it and focus goes to its times.
    for _ in range(14):
        page.keyboard.press("ArrowRight")
        if focused_is(page, f"el.classList.contains('capture-cal__free') && el.dataset.t !== {first_day!r}"):
            break
    day = page.evaluate(f"{FOCUSED}.dataset.t")
    assert day != first_day
    page.keyboard.press("Enter")
    expect(box.locator(f"td[data-t='{day}']")).to_have_attribute("aria-selected", "true")
    assert focused_is(page, "el.dataset.start && el === el.parentNode.firstElementChild")
    live = page.locator("#form-consultation-picker-live")
    expect(live).to_have_text(re.compile(r"^\w+day \d+ \w+, \d+ free times?\.$"))
    page.keyboard.press("Tab")  # the second time
    page.keyboard.press("Enter")
    chosen = page.evaluate(f"{FOCUSED}.dataset.start")
    expect(box.locator(f"[data-start='{chosen}']")).to_have_attribute("aria-pressed", "true")
    tab_until(page, "el.name === 'message'", 40, "the message field")
    page.keyboard.type(prospect.message)
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # consent
    tab_until(page, "el.type === 'submit' && el.form && el.form.id === 'form-consultation'", 8, "the submit button")
    take_a_human_time(page)
    page.keyboard.press("Enter")

    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    assert len(sent) == 1 and sent[0]["slot"] == chosen  # exactly as the API sent it
    assert not any(name in sent[0] for name in REPLACED)
    lead = wait_for_lead(site_stack, prospect.email)
    [booking] = bookings(site_stack, lead["id"])
    assert booking["status"] == "booked" and booking["host"] in HOSTS
    assert booking["starts_at"] == datetime.fromisoformat(chosen)


def test_a_visitor_books_through_roles_and_names_only(site_stack, device):
    prospect = Prospect(f"cal-roles-{device.name}")
    page = device(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    form.get_by_role("textbox", name="Your name").fill(prospect.name)
    form.get_by_role("textbox", name="Email address").fill(prospect.email)
    form.get_by_role("combobox", name="Which package interests you?").select_option(prospect.service)
    form.get_by_role("combobox", name="Budget range").select_option(prospect.budget)
    group = form.get_by_role("group", name="Pick a time for the call")
    grid = group.get_by_role("grid", name=re.compile(r"^\w+ 20\d\d$"))
    expect(grid).to_be_visible()
    expect(group).to_contain_text("Times shown in London time.")
    days = grid.get_by_role("gridcell", name=re.compile(r", \d+ free times?$"))
    expect(days.first).to_be_visible()
    last = days.last
    label = last.get_attribute("aria-label")
    last.click()
    times = group.get_by_role("group", name=re.compile("^Times on " + re.escape(label.split(",")[0])))
    first_time = times.get_by_role("button").first
    expect(first_time).to_be_focused()
    name = first_time.inner_text()
    assert re.fullmatch(r"\d\d:\d\d", name)
    times.get_by_role("button", name=name).click()
    expect(times.get_by_role("button", name=name)).to_have_attribute("aria-pressed", "true")
    form.get_by_role("checkbox", name=re.compile("privacy|agree|consent", re.I)).check()
    take_a_human_time(page)
    form.get_by_role("button", name="Request my free consultation").click()
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    lead = wait_for_lead(site_stack, prospect.email)
    assert len(bookings(site_stack, lead["id"])) == 1


def test_sending_without_a_time_says_pick_a_time(site_stack, device, axe_source):
    prospect = Prospect(f"cal-none-{device.name}")
    page = device(site_stack.site_url + CONSULTATION)
    sent = posts_to_the_form(page)
    form = consultation_form(page)
    box = picker(form)
    fill(form, prospect, skip=REPLACED)

    submit(form)

    expect(form.locator("#form-consultation-slot-error")).to_have_text("Pick a time")
    expect(form.locator("#form-consultation-slot")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-consultation-picker-live")).to_have_text("Pick a time.")
    expect(time_buttons(box).first).to_be_focused()
    assert page.evaluate(FOCUSED_IN_VIEW)
    for name in REPLACED:  # nothing switched behind the visitor's back
        expect(form.locator(f"[name={name}]")).to_be_hidden()
    expect(form.get_by_label(re.compile("None of these"))).not_to_be_checked()
    assert sent == []
    violations = axe_on(page, axe_source)
    assert not violations, f"axe with 'Pick a time':\n{describe(violations)}"

    page.keyboard.press("Enter")  # the focused time
    expect(form.locator("#form-consultation-slot")).not_to_have_attribute("aria-invalid", "true")
    expect(form.locator("#form-consultation-slot-error")).to_have_text("")
    submit(form)
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    assert sent[0]["slot"] == time_buttons(box).first.get_attribute("data-start")


def test_a_time_taken_meanwhile_shows_the_nearest_at_the_picker_and_keeps_every_answer(site_stack, device, axe_source):
    slow = Prospect(f"cal-slow-{device.name}")
    page = device(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    box = picker(form)
    start = offered(form)[-3 if device.name == "phone" else -5]
    fill(form, slow, skip=REPLACED)
    pick(box, start)
    for n, _ in enumerate(HOSTS):  # meanwhile others take that time with every host, through the API
        assert post_booking(site_stack, start, f"earlier.{device.name}.{n}.{slow.email}") == 201

    submit(form)

    error = form.locator("#form-consultation-slot-error")
    expect(error).to_have_text("That time was just taken. Please pick another.")
    expect(form.locator("#form-consultation-slot")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-consultation-picker-live")).to_contain_text("just taken")
    expect(form.get_by_role("status")).to_have_attribute("data-state", "error")
    nearest = form.get_by_role("group", name=re.compile("just taken.*The nearest free times"))
    buttons = nearest.get_by_role("button")
    expect(buttons.first).to_be_focused()
    expect(error).to_be_in_viewport()
    assert page.evaluate(FOCUSED_IN_VIEW), "the first of the nearest times is hidden (header or fold)"
    assert 1 <= buttons.count() <= 5
    assert start not in [b.get_attribute("data-start") for b in buttons.all()]
    assert start not in offered(form)
    for name, value in slow.answers().items():
        if name not in REPLACED:
            expect(form.locator(f"[name={name}]")).to_have_value(value)
    expect(form.locator("[name=consent]")).to_be_checked()
    assert site_stack.leads(email=slow.email) == []
    violations = axe_on(page, axe_source)
    assert not violations, f"axe on the picker after a 409:\n{describe(violations)}"

    other = buttons.first.get_attribute("data-start")
    buttons.first.click()  # the nearest: picked in the calendar, the message gone
    expect(box.locator(f".capture-picker__times [data-start='{other}']")).to_have_attribute("aria-pressed", "true")
    expect(box.locator(f".capture-picker__times [data-start='{other}']")).to_be_focused()
    expect(error).to_have_text("")
    submit(form)
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    lead = wait_for_lead(site_stack, slow.email)
    assert bookings(site_stack, lead["id"])[0]["starts_at"] == datetime.fromisoformat(other)


def api_slots(stack) -> list[str]:
    """Every free time of the horizon, straight from the API (days = sales.yml's horizon)."""
    from capture.schema.sales import load_sales
    from e2e_stack import ROOT
    from zoneinfo import ZoneInfo
    horizon = load_sales(ROOT / "sales.yml", ZoneInfo("Europe/London")).consultation.horizon_days
    with urllib.request.urlopen(f"{stack.api_url}/api/slots?form=consultation&days={horizon}", timeout=10) as r:
        return [s["start"] for s in json.load(r)["slots"]]


def test_the_whole_horizon_is_reachable_month_by_month(site_stack, open_page):
    form = consultation_form(open_page(site_stack.site_url + CONSULTATION))
    box = picker(form)
    expect(box.get_by_role("button", name="Previous month")).to_have_attribute("aria-disabled", "true")
    assert offered(form) == api_slots(site_stack)  # every one, in order, walking with "Next month"
    next_month = box.get_by_role("button", name="Next month")
    while next_month.get_attribute("aria-disabled") != "true":
        next_month.click()
    last = api_slots(site_stack)[-1]
    assert box.locator("td[data-t]").evaluate_all(
        "(tds, last) => tds.some(td => +td.dataset.t === +new Date(new Date(last).toDateString()))", last)


def test_a_phone_visitor_books_in_ten_taps_or_fewer(site_stack, browser):
    prospect = Prospect("cal-taps")
    context = browser.new_context(locale="en-GB", **DEVICES["phone"])
    try:
        page = context.new_page()
        page.goto(site_stack.site_url + CONSULTATION)
        form = consultation_form(page)
        box = picker(form)
        taps = 0

        def tap(locator):
            nonlocal taps
            locator.tap()
            taps += 1

        for name in ("name", "email"):
            tap(form.locator(f"[name={name}]"))
            page.keyboard.type(getattr(prospect, name))
        for name in ("service", "budget"):  # a phone's select: a tap opens it, a tap chooses
            tap(form.locator(f"[name={name}]"))
            form.locator(f"[name={name}]").select_option(getattr(prospect, name))
            taps += 1
        tap(time_buttons(box).first)  # the first free day is already open
        tap(form.locator("[name=consent]"))
        take_a_human_time(page)
        tap(form.get_by_role("button", name="Request my free consultation"))
        expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
        assert taps <= 10, taps
        wait_for_lead(site_stack, prospect.email)
    finally:
        context.close()


# --- with faked answers -------------------------------------------------------------------------

GIVEN = [{"start": s, "end": s.replace(":00:00", ":30:00")} for s in (
    "2026-12-30T10:00:00+00:00", "2027-01-04T09:00:00+00:00", "2027-01-04T11:00:00+00:00", "2027-02-01T14:00:00+00:00")]


def focused_day(page) -> str:
    return page.evaluate(f"{FOCUSED}.getAttribute('aria-label')")


def test_the_grid_keys_move_day_week_and_month_as_the_apg_date_picker(site_stack, open_page):
    page = open_page()
    page.route("**/api/slots*", lambda route: slots_answer(route, GIVEN))
    page.goto(site_stack.site_url + CONSULTATION)
    box = picker(consultation_form(page))
    live = page.locator("#form-consultation-picker-live")
    month = box.locator(".capture-cal__month")
    expect(month).to_have_text("December 2026")
    expect(box.get_by_role("grid")).to_have_attribute("aria-labelledby", "form-consultation-picker-live-month")
    expect(box.locator("td[tabindex='0']")).to_have_count(1)
    box.locator("td[tabindex='0']").focus()
    assert focused_day(page) == "Wednesday 30 December, 1 free time"
    steps = [("ArrowRight", "Thursday 31 December, no free times"),
             ("ArrowRight", "Friday 1 January, no free times"),
             ("Home", "Monday 28 December, no free times"),
             ("End", "Sunday 3 January, no free times"),
             ("PageDown", "Wednesday 3 February, no free times"),
             ("PageDown", "Sunday 28 February, no free times"),  # the last month with free times
             ("PageUp", "Thursday 28 January, no free times"),
             ("ArrowUp", "Thursday 21 January, no free times"),
             ("ArrowUp", "Thursday 14 January, no free times"),
             ("ArrowDown", "Thursday 21 January, no free times")]
    for key, label in steps:
        page.keyboard.press(key)
        assert focused_day(page) == label, key
        expect(box.locator("td[tabindex='0']")).to_have_count(1)  # a roving tab stop
    expect(month).to_have_text("January 2027")
    page.keyboard.press("Enter")  # a day without times: said so, nothing chosen
    expect(live).to_have_text("Thursday 21 January, no free times.")
    expect(box.locator(".capture-picker__on")).to_have_text("Times on Wednesday 30 December")
    for key in ("ArrowUp", "ArrowUp", "ArrowLeft", "ArrowLeft", "ArrowLeft"):
        page.keyboard.press(key)
    assert focused_day(page) == "Monday 4 January, 2 free times"
    page.keyboard.press("Space")
    expect(live).to_have_text("Monday 4 January, 2 free times.")
    expect(box.locator(".capture-picker__on")).to_have_text("Times on Monday 4 January")
    expect(time_buttons(box)).to_have_text(["09:00", "11:00"])
    expect(time_buttons(box).first).to_be_focused()
    # The month buttons: no month before the first free time or after the last.
    previous, following = (box.get_by_role("button", name=n) for n in ("Previous month", "Next month"))
    following.click()
    expect(live).to_have_text("February 2027")
    expect(following).to_have_attribute("aria-disabled", "true")
    following.click(force=True)  # (Playwright waits for an aria-disabled button otherwise)
    expect(month).to_have_text("February 2027")
    previous.click()
    previous.click()
    expect(month).to_have_text("December 2026")
    expect(previous).to_have_attribute("aria-disabled", "true")


BOOKING = {
    "what": "Free 30-minute consultation by video", "kind": "video", "starts_at": "2026-12-30T10:00:00Z",
    "when": "Wednesday 30 December 2026, 05:00–05:30 New York time (EST)",
    "studio_when": "Wednesday 30 December 2026, 10:00–10:30 London time (GMT)", "host": "Maya Patel",
    "how": "Video call: https://meet.example.com/fernleaf-abc", "video_url": "https://meet.example.com/fernleaf-abc",
    "invitation_to": "<b>ada</b>@analytical.example.com",
    "calendar": {"google": "https://calendar.google.com/calendar/render?action=TEMPLATE&text=x",
                 "outlook": "https://outlook.live.com/calendar/0/deeplink/compose?subject=x",
                 "ics": "/api/bookings/abc/invite.ics"},
    "manage": {"move": "https://fernleaf.example/booking/move/abc", "cancel": "javascript:alert(1)"},
}


def test_a_booking_made_shows_the_booked_card(site_stack, device, axe_source):
    page = device()
    page.route("**/api/slots*", lambda route: slots_answer(route, GIVEN))
    page.route("**/api/forms/consultation", lambda route: route.fulfill(
        status=201, content_type="application/json",
        body=json.dumps({"id": "x", "status": "received", "booking": BOOKING})))
    page.goto(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    box = picker(form)
    fill(form, Prospect("cal-card"), skip=REPLACED)
    time_buttons(box).first.click()
    submit(form)

    card = page.locator(".capture-booked")
    heading = card.get_by_role("heading", name="Booked", level=2)
    expect(heading).to_be_focused()
    expect(form).to_be_hidden()
    expect(card).to_contain_text("Free 30-minute consultation by video")
    expect(card).to_contain_text(BOOKING["when"])
    expect(card).to_contain_text(BOOKING["studio_when"])
    expect(card).to_contain_text("Maya Patel")
    expect(card).to_contain_text("Invitation sent to <b>ada</b>@analytical.example.com.")  # text, not markup
    expect(card.locator("b")).to_have_count(0)
    video = card.get_by_role("link", name=BOOKING["how"])
    expect(video).to_have_attribute("href", BOOKING["video_url"])
    expect(card.get_by_role("link", name="Google Calendar")).to_have_attribute("href", BOOKING["calendar"]["google"])
    expect(card.get_by_role("link", name="Outlook")).to_have_attribute("href", BOOKING["calendar"]["outlook"])
    expect(card.get_by_role("link", name="Download an .ics file")).to_have_attribute(
        "href", site_stack.api_url + BOOKING["calendar"]["ics"])
    expect(card.get_by_role("link", name="Move the consultation")).to_have_attribute("href", BOOKING["manage"]["move"])
    expect(card.get_by_role("link", name="Cancel it")).to_have_count(0)  # not an http(s) link: left out
    assert not card.locator("a").evaluate_all("as => as.some(a => !/^https?:/.test(a.href))")
    assert page.evaluate(FOCUSED_IN_VIEW)
    violations = axe_on(page, axe_source)
    assert not violations, f"axe on the Booked card:\n{describe(violations)}"


MOVE_PAGE = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Move your consultation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/stylesheets/site.css"><link rel="stylesheet" href="/assets/stylesheets/booking.css">
</head><body><main class="md-typeset"><h1>Move your consultation</h1>
<form method="post" action="/move-fixture/">
<input type="hidden" name="token" value="signed">
<div class="capture-picker" data-move-picker data-slot-field="slot">
  <fieldset><legend>Wednesday 30 December</legend>
    <label><input type="radio" name="slot" value="2026-12-30T10:00:00Z" required> 10:00</label>
  </fieldset>
  <fieldset><legend>Monday 4 January</legend>
    <label><input type="radio" name="slot" value="2027-01-04T09:00:00Z" required> 09:00</label>
    <label><input type="radio" name="slot" value="2027-01-04T11:00:00Z" required> 11:00</label>
  </fieldset>
</div>
<button type="submit">Move the consultation</button>
</form></main>
<script src="/assets/javascripts/forms.js" defer></script></body></html>"""


def test_the_move_page_radios_feed_the_same_calendar(site_stack, device, axe_source):
    # The contract with templates/booking/ (the move page): radios name=slot, value the ISO UTC start,
    # inside <div class="capture-picker" data-move-picker data-slot-field="slot">; no fetch.
    posted = []

    def serve(route):
        if route.request.method == "POST":
            posted.append(parse_qsl(route.request.post_data or ""))
            return route.fulfill(content_type="text/html", body="<!doctype html><title>Moved</title><p>Moved")
        route.fulfill(content_type="text/html", body=MOVE_PAGE)

    page = device()
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/slots" in r.url else None)
    page.route("**/move-fixture/", serve)
    page.goto(site_stack.site_url + "/move-fixture/")
    box = page.locator("[data-move-picker]")
    expect(box.get_by_role("grid", name="December 2026")).to_be_visible()
    for radio in box.locator("input[type=radio]").all():
        expect(radio).to_be_hidden()
    expect(box).to_contain_text("Times shown in London time.")
    violations = axe_on(page, axe_source, "main")
    assert not violations, f"axe on the move page's calendar:\n{describe(violations)}"

    page.get_by_role("button", name="Move the consultation").click()  # nothing picked
    expect(box.locator(".capture-error")).to_have_text("Pick a time")
    expect(time_buttons(box).first).to_be_focused()
    assert posted == []

    pick(box, "2027-01-04T11:00:00Z")
    expect(box.locator("input[value='2027-01-04T11:00:00Z']")).to_be_checked()
    expect(box.locator("input[name=slot]:checked")).to_have_count(1)
    expect(box.locator(".capture-error")).to_have_text("")
    page.get_by_role("button", name="Move the consultation").click()
    expect(page.locator("p")).to_have_text("Moved")
    assert posted == [[("token", "signed"), ("slot", "2027-01-04T11:00:00Z")]]
    assert asked == []
