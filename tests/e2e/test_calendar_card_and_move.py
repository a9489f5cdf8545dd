"""The calendar picker (forms.js) with faked answers, on a desktop (1366×900) and a phone (390×844).

The grid's keys across months (W3C APG date picker), the "Booked" card made
from a 201's `booking`, and the move page's contract (its radios feed the same
calendar), on a fixture page served at the site's origin with the site's own
script and styles. The real-service journeys: test_calendar_picker.py.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl

from playwright.sync_api import expect

from picking import FOCUSED, FOCUSED_IN_VIEW, axe_on, device, picker, small_targets  # noqa: F401
from test_accessibility import describe
from test_booking_picker import CONSULTATION, REPLACED, consultation_form, pick, slots_answer, submit, time_buttons
from visitor import Prospect, fill


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
    expect(form.get_by_role("status")).to_have_text("Thank you, Ada! Your time is booked.")
    for name in ("email", "consent"):  # the fields give way to the card
        expect(form.locator(f"[name={name}]")).to_be_hidden()
    expect(form.locator(".capture-picker")).to_be_hidden()
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
    assert small_targets(box) == []
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


def test_the_visitors_zone_goes_with_the_form_when_it_asks_for_it(site_stack, browser):
    # A form whose schema has a time_zone field says so with data-zone-field (form.html); the
    # script fills that input, or makes it, with the browser's IANA zone.
    context = browser.new_context(locale="en-GB", timezone_id="America/New_York")
    posted = []

    def with_zone_field(route):
        page_html = route.fetch().text()
        route.fulfill(content_type="text/html", body=page_html.replace(
            'data-slot-field="slot"', 'data-slot-field="slot" data-zone-field="time_zone"'))

    def answer(route):
        posted.append(dict(parse_qsl(route.request.post_data or "")))
        route.fulfill(status=201, content_type="application/json", body='{"id": "x", "status": "received"}')

    try:
        page = context.new_page()
        page.route("**/consultation/", with_zone_field)
        page.route("**/api/slots*", lambda route: slots_answer(route, GIVEN))
        page.route("**/api/forms/consultation", answer)
        page.goto(site_stack.site_url + CONSULTATION)
        form = consultation_form(page)
        fill(form, Prospect("cal-zone"), skip=REPLACED)
        pick(picker(form), GIVEN[1]["start"])
        submit(form)
        expect(form.get_by_role("status")).to_have_text(
            "Thank you, Ada! We have received your message and will reply soon.")  # no booking object: as before
        assert posted[0]["time_zone"] == "America/New_York" and posted[0]["slot"] == GIVEN[1]["start"]
    finally:
        context.close()
