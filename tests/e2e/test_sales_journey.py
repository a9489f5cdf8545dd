"""The sales side in a real browser: from the owner's email to a won deal, on the deploy topology.

A prospect books on the site; the lead's owner gets the notification; its
"Mark as contacted" link shows a page and changes nothing until the button is
pressed; the owner signs in to the desk by magic link, finds the lead in the
inbox, records the consultation and marks it won with a value typed as "8.5k"; the lead page
shows the whole timeline. axe finds nothing on any desk page. The inbox and
lead page are also saved as tests/artifacts/desk-*.png (the handbook's pictures, handbook/images/).
"""
from __future__ import annotations

import json
import re
import urllib.request
import uuid

from playwright.sync_api import expect

from conftest import ARTIFACTS
from test_accessibility import axe_violations, describe
from visitor import Prospect, fill, wait_for_lead

CONSULTATION = "/consultation/"


def link_in(message, label: str) -> str:
    """The URL after `label:` in a message's text part."""
    text = message.get_body(("plain",)).get_content()
    found = re.search(rf"^(?:Next step: |  )?{re.escape(label)}: (\S+?)\r?$", text, re.M)  # the main step, or one of the others
    assert found, f"no '{label}' link in: {text}"
    return found[1]


def no_axe_violations(page, axe_source: str) -> None:
    violations = axe_violations(page, axe_source)
    assert violations == [], f"{page.url}\n{describe(violations)}"


def test_from_the_owners_email_to_a_won_deal(site_stack, inbox, open_page, axe_source):
    prospect = Prospect("desk1", name="Grace Hopper")
    page = open_page(site_stack.site_url + CONSULTATION)
    form = page.locator("form[data-capture-form=consultation]")
    fill(form, prospect)
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()
    expect(form.get_by_role("status")).to_contain_text("Thank you, Grace")
    lead = wait_for_lead(site_stack, prospect.email)
    owner = lead["owner"]
    assert owner in ("maya@fernleaf.example", "tom@fernleaf.example")

    # The owner's notification, and its one-click link: opening it changes nothing.
    [note] = inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead["id"] and m.envelope_to == [owner])
    action = open_page(link_in(note, "Mark as contacted"))
    expect(action.get_by_role("heading", level=1)).to_have_text("Mark as contacted?")
    expect(action.locator("main")).to_contain_text("Grace Hopper")
    no_axe_violations(action, axe_source)
    assert site_stack.leads(id=lead["id"])[0]["status"] == "new"
    action.get_by_role("button", name="Mark as contacted").click()
    expect(action.get_by_role("heading", level=1)).to_have_text("Done")
    assert site_stack.leads(id=lead["id"])[0]["status"] == "contacted"

    # The owner signs in by magic link (the GET of the link shows a button; the POST signs in).
    desk = sign_in(site_stack, inbox, open_page, axe_source, owner)

    # The inbox lists it; the lead page records the consultation, then the win.
    row_link = desk.locator(f'a[href="/desk/leads/{lead["id"]}"]')
    expect(row_link).to_be_visible()
    no_axe_violations(desk, axe_source)
    desk.screenshot(path=str(shot("desk-inbox.png")), full_page=True)
    row_link.click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Grace Hopper")
    no_axe_violations(desk, axe_source)
    desk.get_by_role("button", name="Consultation", exact=True).click()  # a button per status
    expect(desk.get_by_role("status")).to_have_text("Marked as consultation.")
    desk.get_by_text("Won: record the deal").click()  # only the won form asks for a value
    desk.get_by_label(re.compile("^Deal value")).fill("8.5k")
    desk.get_by_role("button", name="Mark as won").click()
    expect(desk.get_by_role("status")).to_have_text("Marked as won.")

    timeline = desk.locator("ol.timeline")
    for step in ("new → contacted", "contacted → consultation", "consultation → won (£8,500)"):
        expect(timeline).to_contain_text(step)
    no_axe_violations(desk, axe_source)
    desk.screenshot(path=str(shot("desk-lead.png")), full_page=True)
    stored = site_stack.leads(id=lead["id"])[0]
    assert (stored["status"], stored["deal_value"]) == ("won", 850000)


def sign_in(site_stack, inbox, open_page, axe_source, email: str):
    """A desk page signed in as `email`, by the magic link the desk mails."""
    desk = open_page(site_stack.site_url + "/desk/")
    expect(desk).to_have_url(site_stack.site_url + "/desk/sign-in")
    no_axe_violations(desk, axe_source)
    def mine(m):
        return m.envelope_to == [email] and "sign-in link" in str(m["Subject"])
    earlier = len(inbox.find(mine))  # an earlier journey's link was used already
    desk.get_by_label("Email address").fill(email)
    desk.get_by_role("button", name="Email me a sign-in link").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    signin = inbox.wait_for(mine, count=earlier + 1)[-1]
    desk.goto(link_in_body(signin))
    no_axe_violations(desk, axe_source)
    desk.get_by_role("button", name="Sign in").click()
    expect(desk).to_have_url(site_stack.site_url + "/desk/")
    return desk


def test_a_real_enquiry_caught_as_spam_is_released_from_the_tray(site_stack, inbox, open_page, axe_source):
    # Sent in under a second, with three links to other sites and one shortened: held as spam.
    body = {"name": "Lin Wei", "email": f"lin.{uuid.uuid4().hex[:8]}@teahouse.example",
            "message": "Sites we love: https://a.example https://b.example https://bit.ly/tea3 "
                       "- can you make ours like them?", "consent": True, "time_on_form": "900"}
    request = urllib.request.Request(site_stack.site_url + "/api/forms/contact", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201  # a bot is never told
        lead_id = json.load(response)["id"]
    stored = site_stack.leads(id=lead_id)[0]
    assert (stored["spam"], stored["owner"]) == (True, None)

    desk = sign_in(site_stack, inbox, open_page, axe_source, "maya@fernleaf.example")
    desk.get_by_role("link", name="Spam tray", exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Spam tray")
    row = desk.locator("tr", has_text="Lin Wei")
    expect(row).to_contain_text("a shortened link (bit.ly)")
    no_axe_violations(desk, axe_source)
    desk.screenshot(path=str(shot("desk-spam.png")), full_page=True)
    row.get_by_role("button", name="Not spam: Lin Wei").click()
    expect(desk.get_by_role("status")).to_contain_text("Not spam: now ")
    owner = site_stack.leads(id=lead_id)[0]["owner"]
    assert owner and site_stack.leads(id=lead_id)[0]["spam"] is False
    # The notification it missed arrives now, saying it was held.
    [note] = inbox.wait_for(lambda m: m["X-Capture-Lead"] == lead_id and m.envelope_to == [owner])
    assert "released by a teammate" in note.get_body(("plain",)).get_content()


def link_in_body(message) -> str:
    found = re.search(r"(http://\S+/desk/sign-in/\S+?)\r?$", message.get_body(("plain",)).get_content(), re.M)
    assert found, "no sign-in link in the email"
    return found[1]


def shot(name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
