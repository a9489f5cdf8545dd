"""A visitor's whole journey in a real browser, on the production topology.

Each journey is one prospect (a unique email address) on the stacks of
conftest.py: nginx in front of gunicorn and the standalone mail worker, the
SMTP relay played by aiosmtpd. A failing journey leaves screenshots in
tests/artifacts/.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from visitor import (Prospect, check_mail, fill, fill_with_keyboard, no_mail_for, wait_for_lead)

BLOG_POST = "/blog/website-cost-guide/"       # links to each package's page
SERVICE_PAGE = "/services/business-site/"     # has the consultation form, preset to "business"
CONSULTATION = "/consultation/"
THANK_YOU = "/thank-you/consultation/"
CAMPAIGN = "?utm_source=newsletter&utm_campaign=spring"


def read_post_then_open_service_page(page, stack) -> str:
    """Arrive on the blog post from the newsletter, follow its link to the Business site package."""
    page.goto(stack.site_url + BLOG_POST + CAMPAIGN)
    landing = page.url
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.locator("article").get_by_role("link", name="Business site", exact=True).first.click()
    expect(page).to_have_url(stack.site_url + SERVICE_PAGE)
    return landing


def consultation_form(page):
    return page.locator("form[data-capture-form=consultation]")


def test_1_prospect_reads_a_post_and_books_with_the_keyboard(site_stack, inbox, open_page):
    prospect = Prospect("j1")
    page = open_page()
    landing = read_post_then_open_service_page(page, site_stack)
    form = consultation_form(page)
    expect(form.locator("[name=service]")).to_have_value("business")

    fill_with_keyboard(page, form, prospect)

    status = form.get_by_role("status")
    expect(status).to_contain_text("Thank you, Ada")
    lead = wait_for_lead(site_stack, prospect.email)
    assert lead["service"] == "business" and lead["spam"] is False
    # First touch: the blog post the newsletter linked to; last touch: the page with the form.
    assert lead["landing_page"] == landing
    assert (lead["first_utm_source"], lead["first_utm_campaign"]) == ("newsletter", "spring")
    assert lead["page_url"] == site_stack.site_url + SERVICE_PAGE
    assert lead["referrer"] == landing
    assert lead["last_utm_source"] is None and lead["last_utm_campaign"] is None
    assert lead["first_seen"]
    check_mail(inbox, lead, prospect)


def test_2_prospect_without_javascript_lands_on_the_thank_you_page(site_stack, inbox, open_page):
    prospect = Prospect("j2")
    page = open_page(javascript=False)
    read_post_then_open_service_page(page, site_stack)
    form = consultation_form(page)
    fill(form, prospect)

    form.get_by_role("button", name=re.compile("consultation", re.I)).click()

    expect(page).to_have_url(site_stack.site_url + THANK_YOU)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thank you")
    lead = wait_for_lead(site_stack, prospect.email)
    assert lead["service"] == "business" and lead["spam"] is False
    # Without the script only the Referer says where the form was; first touch needs the script.
    assert lead["page_url"] == site_stack.site_url + SERVICE_PAGE
    check_mail(inbox, lead, prospect)


def test_3_mistakes_are_shown_in_place_and_a_double_click_sends_once(site_stack, open_page):
    prospect = Prospect("j3")
    page = open_page(site_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    fill(form, prospect, skip=("name",))
    form.locator("[name=email]").fill("ada@analytical")
    submit = form.get_by_role("button", name=re.compile("consultation", re.I))

    submit.click()

    name, email = form.locator("[name=name]"), form.locator("[name=email]")
    expect(name).to_be_focused()
    for field in (name, email):
        expect(field).to_have_attribute("aria-invalid", "true")
    expect(form.locator(f"#{name.get_attribute('id')}-error")).to_contain_text("Your name")
    expect(form.locator(f"#{email.get_attribute('id')}-error")).to_contain_text("valid email")
    expect(form.get_by_role("status")).to_contain_text("2 answers")
    # What the visitor typed is all still there.
    expect(email).to_have_value("ada@analytical")
    expect(form.locator("[name=company]")).to_have_value(prospect.company)
    expect(form.locator("[name=message]")).to_have_value(prospect.message)
    expect(form.locator("[name=consent]")).to_be_checked()

    name.fill(prospect.name)
    email.fill(prospect.email)
    posts = []
    page.on("request", lambda req: posts.append(req.url)
            if req.method == "POST" and "/api/forms/" in req.url else None)
    submit.dblclick()

    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    for field in (name, email):
        expect(field).not_to_have_attribute("aria-invalid", "true")
    # Both clicks came before the first answer: a second post would have left by now.
    page.wait_for_load_state("networkidle")
    assert len(posts) == 1, posts
    wait_for_lead(site_stack, prospect.email)  # exactly one


def test_3_without_javascript_the_server_shows_the_mistakes(site_stack, open_page):
    # The browser's own checks pass these; the server's do not (an address without a
    # domain dot, a date in the past), so the API answers with the form and its errors.
    prospect = Prospect("j3-plain", preferred_date="2020-03-02")
    page = open_page(site_stack.site_url + CONSULTATION, javascript=False)
    form = consultation_form(page)
    fill(form, prospect)
    form.locator("[name=email]").fill("ada@analytical")
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()

    expect(page.get_by_role("alert")).to_contain_text("Please check these 2 answers")
    form = consultation_form(page)
    email, day = form.locator("[name=email]"), form.locator("[name=preferred_date]")
    for field in (email, day):
        expect(field).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("ada@analytical")
    expect(form.locator("[name=company]")).to_have_value(prospect.company)
    expect(form.locator("[name=consent]")).to_be_checked()

    email.fill(prospect.email)
    day.fill(Prospect("x").preferred_date)
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()
    expect(page).to_have_url(site_stack.site_url + THANK_YOU)
    wait_for_lead(site_stack, prospect.email)


def test_4_cross_origin_site_posts_to_the_api_subdomain(split_stack, open_page):
    # The allowed origin: the script posts across origins and shows the success in place.
    allowed = Prospect("j4-allowed")
    page = open_page(split_stack.site_url + CONSULTATION)
    form = consultation_form(page)
    expect(form).to_have_attribute("action", split_stack.api_url + "/api/forms/consultation")
    fill(form, allowed)
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()
    expect(form.get_by_role("status")).to_contain_text("Thank you, Ada")
    lead = wait_for_lead(split_stack, allowed.email)
    assert lead["page_url"] == split_stack.site_url + CONSULTATION

    # Without the script, the plain POST comes back to the site's thank-you page (CAPTURE_SITE_URL).
    plain = Prospect("j4-plain")
    page = open_page(split_stack.site_url + CONSULTATION, javascript=False)
    form = consultation_form(page)
    fill(form, plain)
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()
    expect(page).to_have_url(split_stack.site_url + THANK_YOU)
    wait_for_lead(split_stack, plain.email)

    # An origin that is not allowed: a clear failure in the form, and nothing stored.
    stranger = Prospect("j4-stranger")
    page = open_page(split_stack.other_site_url + CONSULTATION)
    form = consultation_form(page)
    fill(form, stranger)
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()
    status = form.get_by_role("status")
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("could not")
    # The script shows the failure only once the server has answered (the preflight, or the post
    # itself): whatever it was going to store is committed by now.
    assert split_stack.leads(email=stranger.email) == []


def test_5_bot_filling_the_honeypot_sees_success_but_sales_get_nothing(site_stack, inbox, open_page):
    bot = Prospect("j5", name="Cheap Backlinks", message="Buy SEO backlinks now")
    page = open_page(site_stack.site_url + CONSULTATION, javascript=False)  # bots rarely run scripts
    form = consultation_form(page)
    fill(form, bot)
    form.locator("[name=fax]").evaluate("el => { el.value = '+1 555 0100'; }")  # a bot fills every input

    form.get_by_role("button", name=re.compile("consultation", re.I)).click()

    expect(page).to_have_url(site_stack.site_url + THANK_YOU)
    lead = wait_for_lead(site_stack, bot.email)
    assert lead["spam"] is True and lead["verdict"] == "spam"
    assert site_stack.outbox(lead["id"]) == []
    assert no_mail_for(inbox, lead)
