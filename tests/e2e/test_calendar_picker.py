"""The calendar picker (forms.js) as visitors meet it, on a desktop (1366×900) and a phone (390×844).

On the real service (`site_stack`): booking with the keyboard alone, booking
through roles and names only (what a screen reader exposes), "Pick a time"
when nothing is picked, the race for a time someone else just took, every free
time of the horizon reachable month by month, and the taps a phone visitor
needs. With faked answers: test_calendar_card_and_move.py.
"""
from __future__ import annotations

import json
import re
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from capture.schema.sales import load_sales
from e2e_stack import ROOT
from picking import DEVICES, FOCUSED, FOCUSED_IN_VIEW, axe_on, device, focused_is, picker, small_targets  # noqa: F401
from test_accessibility import describe
from test_booking_journey import post_booking
from test_booking_picker import (CONSULTATION, HOSTS, REPLACED, bookings, consultation_form, offered, pick,
                                 posts_to_the_form, submit, time_buttons)
from visitor import Prospect, fill, tab_until, take_a_human_time, wait_for_lead


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
        if name == "meeting_kind":  # the group's one Tab stop, its checked radio; arrows choose
            assert focused_is(page, "el.checked && el.value === 'video'")
            page.keyboard.press("ArrowDown")
            assert focused_is(page, f"el.checked && el.value === {value!r}"), value
        elif name in ("service", "budget"):
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
    meet = form.get_by_role("group", name="How shall we meet?")
    expect(meet.get_by_role("radio", name="Video call: we send you a link")).to_be_checked()  # first
    meet.get_by_role("radio", name="Phone call: we call you").check()
    form.get_by_role("textbox", name="Phone number").fill(prospect.phone)
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
    assert small_targets(group) == []  # every day, time, month button and the checkbox: 24×24 px or more
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
        if name == "meeting_kind":
            expect(form.locator(f"[name={name}][value={value}]")).to_be_checked()
        elif name not in REPLACED:
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


def test_a_phone_visitor_books_in_fewer_than_ten_taps(site_stack, browser):
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
            # A person's taps are further apart than a double tap (300 ms), which the phone
            # would take as a zoom and lose the typing that follows.
            page.wait_for_timeout(400)
            locator.tap()
            taps += 1

        for name in ("name", "email"):  # a video call, already chosen, needs no number
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
        assert taps < 10, taps
        wait_for_lead(site_stack, prospect.email)
    finally:
        context.close()
