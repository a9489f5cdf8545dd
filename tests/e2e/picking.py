"""Shared by the calendar picker's browser tests: the two devices, axe on the content, focus checks."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

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


def small_targets(box) -> list[str]:
    """The calendar's controls under 24×24 px (WCAG 2.2, 2.5.8), as 'TAG text w×h'."""
    return box.locator("button, td[data-t], input[type=checkbox]").evaluate_all(
        """els => els.map(e => [e, e.getBoundingClientRect()]).filter(([e, r]) => r.width < 24 || r.height < 24)
                 .map(([e, r]) => `${e.tagName} ${e.textContent.trim()} ${Math.round(r.width)}x${Math.round(r.height)}`)""")
