"""axe-core (tests/e2e/package-lock.json) on the pages a prospect meets: zero violations.

axe runs inside the page as served by nginx, after the site's own script has
run, with its default rule set (WCAG 2.0-2.2 A/AA plus best practices).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from visitor import Prospect, fill

PAGES = {
    "home": "/",
    "services": "/services/",
    "service page": "/services/business-site/",
    "blog": "/blog/",
    "blog post": "/blog/website-cost-guide/",
    "case study": "/blog/before-and-after-southville-plumbing/",
    "consultation": "/consultation/",
    "contact": "/contact/",
    "about": "/about/",
    "privacy": "/privacy/",
    "thank-you page": "/thank-you/consultation/",
}


def axe_violations(page, axe_source: str) -> list[dict]:
    """Run axe on the page as it is now; the violations, each with the elements it found."""
    page.add_script_tag(content=axe_source)
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}));
    }""")


def describe(violations: list[dict]) -> str:
    return "\n".join(f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"][:5])
                     for v in violations)


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_page_has_no_axe_violations(path, site_stack, open_page, axe_source):
    page = open_page(site_stack.site_url + path)
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe on {path}:\n{describe(violations)}"


PHONE = {"width": 390, "height": 844}
PHONE_PAGES = {"home": "/", "service page": "/services/business-site/",
               "post": "/blog/website-cost-2026/", "consultation": "/consultation/"}


@pytest.mark.parametrize("path", PHONE_PAGES.values(), ids=PHONE_PAGES.keys())
def test_phone_header_books_a_consultation_and_the_menu_opens_at_the_top(path, site_stack, open_page,
                                                                          axe_source):
    page = open_page()
    page.set_viewport_size(PHONE)
    page.goto(site_stack.site_url + path)
    book = page.locator("header").get_by_role("link", name="Book a consultation")
    expect(book).to_be_visible()
    box = book.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24 and box["y"] + box["height"] <= PHONE["height"], box
    assert book.evaluate("a => a.href") == site_stack.site_url + "/consultation/"
    menu = page.get_by_role("navigation", name="Menu")
    home = menu.get_by_role("link", name="Home", exact=True)
    expect(home).not_to_be_in_viewport()
    page.locator("header label[for=__drawer]").click()  # the pointer: the menu button
    for name in ("Home", "Services", "Work & about", "Blog", "Contact", "Starter site"):
        expect(menu.get_by_role("link", name=name, exact=True)).to_be_in_viewport()
    page.reload()
    in_menu = "document.activeElement.closest('.md-sidebar--primary') !== null"
    for _ in range(8):  # the keyboard: the skip link, the header's button (the home page's hero),
        page.keyboard.press("Tab")  # then the menu, which slides in while focus is inside it
        if page.evaluate(in_menu):
            break
    page.keyboard.press("Tab")  # past the menu's logo
    expect(home).to_be_focused()
    expect(home).to_be_in_viewport()
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe on {path} at 390×844 with the menu open:\n{describe(violations)}"


def test_consultation_page_with_errors_showing_has_no_axe_violations(site_stack, open_page, axe_source):
    page = open_page(site_stack.site_url + "/consultation/")
    form = page.locator("form[data-capture-form=consultation]")
    form.locator("[name=email]").fill("not-an-address")
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()
    expect(form.locator("[aria-invalid=true]").first).to_be_visible()
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe on /consultation/ with errors:\n{describe(violations)}"


def test_error_page_without_the_script_has_no_axe_violations(site_stack, open_page, axe_source):
    # The API's own page (templates/server/problem.html) re-shows the form with the errors.
    # The site's script is blocked rather than JavaScript turned off, so axe can still run.
    page = open_page()
    page.route("**/forms.js", lambda route: route.abort())
    page.goto(site_stack.site_url + "/consultation/")
    form = page.locator("form[data-capture-form=consultation]")
    fill(form, Prospect("axe"))
    form.locator("[name=email]").fill("ada@analytical")  # the browser's check lets it pass, the API's not
    form.get_by_role("button", name=re.compile("consultation", re.I)).click()
    expect(page.get_by_role("alert")).to_be_visible()
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe on the API's error page:\n{describe(violations)}"
