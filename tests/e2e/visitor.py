"""What a visitor does and what the business should then have: helpers for the journeys.

A `Prospect` is one made-up person with a unique email address, so each
journey finds its own lead and its own mail on the shared stack.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

BUSINESS_TZ = ZoneInfo("Europe/London")  # CAPTURE_TIMEZONE in deploy/env.example
SALES = "sales@fernleaf.example"         # forms.yml: consultation -> notify.to (non e-commerce)
FIELD_ORDER = ("name", "email", "meeting_kind", "phone", "company", "website", "service", "budget",
               "preferred_date", "preferred_time", "message", "consent")
NONE_OF_THESE = re.compile("None of these times suit me")  # the booking picker's way to the fields


def picker_showing(form) -> bool:
    """True when the booking picker (forms.js, GET /api/slots) stands in for the preferred-date fields."""
    form.page.wait_for_load_state("networkidle")  # the slots have come, or not
    return form.locator(".capture-picker").is_visible()


def next_weekday(days_ahead: int = 7) -> str:
    """A weekday at least `days_ahead` days after today, where the business is, as YYYY-MM-DD."""
    day = datetime.now(BUSINESS_TZ).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.isoformat()


HUMAN_MS = 4000  # over spam.FAST_MS, and enough of the page's life for QUICK_MS not to matter alone


@dataclass
class Prospect:
    """A visitor's answers to the consultation form."""
    journey: str
    name: str = "Ada Lovelace"
    meeting_kind: str = "phone"  # a call needs the number below (forms.yml: required_when)
    phone: str = "+44 20 7946 0018"
    company: str = "Analytical Engines Ltd"
    # With a scheme: without the script, the browser itself checks type=url and refuses a bare domain.
    website: str = "https://analytical.example.com"
    service: str = "business"
    budget: str = "5k-10k"
    preferred_date: str = field(default_factory=next_weekday)
    preferred_time: str = "09:00-12:00"
    message: str = "We sell brass gears and want more enquiries."
    email: str = ""

    def __post_init__(self):
        tag = uuid.uuid4().hex[:8]
        if not self.email:
            self.email = f"ada.{self.journey}.{tag}@analytical.example.com"
        # Each visitor writes their own words: one message from many addresses is a spam campaign.
        self.message = f"{self.message} (Ref {tag}.)"

    def answers(self) -> dict[str, str]:
        """Field name -> value, in the form's order."""
        return {name: getattr(self, name) for name in FIELD_ORDER if name != "consent"}


# --- filling in a form ------------------------------------------------------------

def fill(form, prospect: Prospect, skip: tuple = ()) -> None:
    """Fill the consultation form the ordinary way (mouse and keyboard, Playwright's fill).

    With the booking picker showing, the visitor says none of its times suit them, so the
    preferred date and time are asked for as before.
    """
    if "preferred_date" not in skip and picker_showing(form):
        form.get_by_label(NONE_OF_THESE).check()
    for name, value in prospect.answers().items():
        if name in skip:
            continue
        if name == "meeting_kind":
            form.locator(f"[name={name}][value={value}]").check()
            continue
        field = form.locator(f"[name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    if "consent" not in skip:
        form.locator("[name=consent]").check()
    take_a_human_time(form.page)


def take_a_human_time(page) -> None:
    """Let the page be open as long as a person takes to fill it in.

    The spam filter (capture/intake/spam.py) counts a form sent within seconds of the
    page loading as a bot's hint; Playwright fills one in a few milliseconds.
    """
    page.wait_for_timeout(max(0, HUMAN_MS - page.evaluate("performance.now()")))


def tab_until(page, test_js: str, limit: int, what: str) -> None:
    """Press Tab until `test_js` (about `el`, the focused element) is true; fail after `limit` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({test_js}); }})()"):
            return
    raise AssertionError(f"{what} cannot be reached with the Tab key ({limit} presses)")


def fill_with_keyboard(page, form, prospect: Prospect) -> None:
    """Fill and send the form with the keyboard alone, checking the Tab order follows the form."""
    form_id = form.get_attribute("id")
    limit = 200  # the first field: past the header, navigation and the article's links
    for name, value in {**prospect.answers(), "consent": "on"}.items():
        field_id = f"{form_id}-{name}"
        if name == "meeting_kind":  # a radio group is one Tab stop (its checked radio); arrows choose
            tab_until(page, f"el.name === {name!r}", limit, "the meeting_kind group")
            for _ in range(4):
                if page.evaluate("document.activeElement.value") == value:
                    break
                page.keyboard.press("ArrowDown")
            assert page.evaluate("document.activeElement.checked && document.activeElement.value") == value
            continue
        if name == "preferred_date" and picker_showing(form):
            # Past the calendar to its last control, "None of these…", which brings the fields back.
            tab_until(page, "el.type === 'checkbox' && !!el.closest('.capture-picker')", max(limit, 60),
                      "the booking picker")  # past the month buttons, the grid's one stop and a day's times
            page.keyboard.press("Space")
            assert page.evaluate("document.activeElement.checked")
        tab_until(page, f"el.id === {field_id!r}", limit, f"the {name} field")
        limit = 8   # then each field follows the last (help links may sit between them)
        field = page.locator(f"#{field_id}")
        kind = field.evaluate("el => el.tagName === 'SELECT' ? 'select' : el.type")
        if kind == "checkbox":
            page.keyboard.press("Space")
        elif kind == "select":
            _choose_with_keyboard(page, field, value)
        elif kind == "date":
            _type_date(page, field, value)
        else:
            page.keyboard.type(value)
    tab_until(page, "el.type === 'submit' && el.form && el.form.id === " + repr(form_id), 8,
              "the submit button")
    take_a_human_time(page)
    page.keyboard.press("Enter")


def _choose_with_keyboard(page, field, value: str) -> None:
    """Pick an option with the arrow keys on the focused select."""
    for _ in range(field.locator("option").count()):
        if field.input_value() == value:
            return  # (already there: the service page presets its own package)
        page.keyboard.press("ArrowDown")
    assert field.input_value() == value, f"the arrow keys never reached {value!r}"


def _type_date(page, field, iso: str) -> None:
    """Type a date into the browser's segmented date field, whichever order it shows."""
    year, month, day = iso.split("-")
    for digits in (month + day + year, day + month + year, year + month + day):
        page.keyboard.type(digits)
        if field.input_value() == iso:
            return
        for _ in range(2):
            page.keyboard.press("Shift+Tab")  # back to the first segment, to try the next order
    raise AssertionError(f"could not type {iso} into the date field (got {field.input_value()!r})")


# --- what the business has afterwards -----------------------------------------------------

def wait_for_lead(stack, email: str, timeout: float = 10.0) -> dict:
    """The one stored lead with this email address."""
    deadline = time.monotonic() + timeout
    while True:
        found = stack.leads(email=email)
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(found) == 1, f"expected one lead from {email}, found {len(found)}"
    return found[0]


def check_mail(inbox, lead: dict, prospect: Prospect) -> None:
    """Sales and the lead's owner got the notification, Reply-To the prospect; the prospect a
    confirmation with an .ics (sent after the notifications)."""
    messages = inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead["id"], count=3, timeout=40)
    to_sales = [m for m in messages if m.envelope_to == [SALES]]
    to_owner = [m for m in messages if m.envelope_to == [lead["owner"]]]
    to_prospect = [m for m in messages if m.envelope_to == [prospect.email]]
    assert len(to_sales) == 1 and len(to_owner) == 1 and len(to_prospect) == 1, \
        f"mail for lead {lead['id']}: {[(m.envelope_to, m['Subject']) for m in messages]}"
    reply_to = to_sales[0]["Reply-To"].addresses
    assert [a.addr_spec for a in reply_to] == [prospect.email]
    assert reply_to[0].display_name == prospect.name
    check_ics(to_prospect[0], prospect)


def check_ics(message, prospect: Prospect) -> None:
    """The confirmation carries one calendar event at the requested date and time.

    Inline, as Gmail and Outlook expect (a text/calendar alternative with its method),
    and as a consultation.ics attachment for clients that import files.
    """
    calendars = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert len(calendars) == 1, "the confirmation has no calendar part"
    assert calendars[0].get_param("method") == "PUBLISH" and calendars[0].get_param("charset") == "UTF-8"
    files = [part.get_filename() for part in message.iter_attachments()]
    assert files == ["consultation.ics"], "the confirmation has no .ics attachment"
    calendar = icalendar.Calendar.from_ical(calendars[0].get_content())
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    # Sent in UTC with the business zone attached: compared as the business sees it.
    start, end = (events[0][name].dt.astimezone(BUSINESS_TZ) for name in ("DTSTART", "DTEND"))
    first, last = prospect.preferred_time.split("-")
    assert start.date() == date.fromisoformat(prospect.preferred_date)
    assert start.strftime("%H:%M") == first and end.strftime("%H:%M") == last
    assert events[0]["UID"] and events[0]["DTSTAMP"]


def no_mail_for(inbox, lead: dict, wait: float = 3.0) -> bool:
    """True when nothing about this lead arrived within `wait` seconds."""
    return not inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead["id"], count=1, timeout=wait)
