"""The report page in a real browser: Priya (marketing) signs in and reads the last 30 days.

A month of history is made on the stack the way production makes it: leads posted to the
form API with their UTM values, moved back to the day they "arrived", then taken through the
pipeline (capture.pipeline.change_status); page views counted by capture.traffic's own
function. The page must show the table, the open pipeline and four charts, pass axe, and is saved
as tests/artifacts/desk-report.png and handbook/images/desk-report.png (the handbook's picture).
On a phone (390×844) it must fit the screen: charts scale, tables scroll inside labelled regions,
and a row's link opens the inbox with exactly its leads (handbook/images/desk-report-phone.png).
"""
from __future__ import annotations

import json
import re
import shutil
import urllib.request
import uuid
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select, update

from capture.pipeline import stages
from capture.traffic import counts
from capture.core.clock import utcnow
from capture.schema.forms import load_schema
from capture.db.models import leads
from capture.pipeline.stages import Change
from capture.schema.sales import load_sales
from e2e_stack import ROOT
from picking import DEVICES
from test_sales_journey import no_axe_violations, shot, sign_in

LONDON = ZoneInfo("Europe/London")
PRIYA = "priya@fernleaf.example"
SITE = "https://www.fernleaf.example"
# (source, medium, campaign, landing path, visitors over the month)
SOURCES = {
    "google": ("cpc", "autumn-ads", "/services/", 120),
    "newsletter": ("email", "november-news", "/blog/fast-websites/", 60),
    "linkedin": ("social", "case-study", "/work/", 40),
    "": ("", "", "/", 90),
}
# (days ago, source, status, value in pounds or lost reason)
HISTORY = [
    (26, "google", "won", 8500), (25, "newsletter", "consultation", None), (24, "", "lost", "price"),
    (19, "google", "proposal", None), (18, "linkedin", "won", 12000), (17, "google", "lost", "timing"),
    (12, "newsletter", "won", 4500), (11, "google", "contacted", None), (10, "", "contacted", None),
    (5, "google", "won", 6000), (4, "linkedin", "consultation", None), (3, "newsletter", "lost", "went_elsewhere"),
    (2, "google", "contacted", None),
]
STEPS = {"contacted": ["contacted"], "consultation": ["contacted", "consultation"],
         "proposal": ["contacted", "consultation", "proposal"],
         "won": ["contacted", "consultation", "proposal", "won"], "lost": ["contacted", "lost"]}


def weekday_morning(days_ago: int) -> datetime:
    """10:00 in London on the weekday on or before `days_ago` days ago, in UTC."""
    day = (utcnow().astimezone(LONDON) - timedelta(days=days_ago)).date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=LONDON).astimezone(timezone.utc)


def post_lead(stack, n: int, source: str) -> str:
    medium, campaign, path, _ = SOURCES[source]
    body = {"name": f"Report Prospect {n}", "email": f"report.{n}.{uuid.uuid4().hex[:8]}@example.com",
            "message": f"We would like a quote for a new website, enquiry number {n}.", "consent": True,
            "time_on_form": "45000", "landing_page": SITE + path, "page_url": SITE + "/contact/"}
    if source:
        body.update(first_utm_source=source, first_utm_medium=medium, first_utm_campaign=campaign)
    request = urllib.request.Request(stack.site_url + "/api/forms/contact", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)["id"]


def make_history(stack) -> None:
    """The month above: views per source, leads moved back to their day and through the pipeline."""
    sales = load_sales(ROOT / "sales.yml", LONDON, load_schema(ROOT / "forms.yml").forms)
    for n, (source, (medium, campaign, path, visitors)) in enumerate(SOURCES.items()):
        view = counts.View(path=path, referrer_host={"google": "www.google.com", "linkedin": "www.linkedin.com"}
                           .get(source, ""), utm_source=source, utm_medium=medium, utm_campaign=campaign)
        for i in range(visitors):
            at = weekday_morning(i % 28)
            # Someone else per source (one person's views within 30 minutes are one visit,
            # credited to where it began); some look at more than one page's worth.
            who = (f"198.51.{100 + n}.{i}", f"Browser {i}", "fernleaf")
            for _ in range(1 + i % 3):
                counts.count_view(stack.engine, view, who, at, LONDON)
    for n, (days_ago, source, status, extra) in enumerate(HISTORY):
        lead_id = post_lead(stack, n, source)
        arrived = weekday_morning(days_ago)
        with stack.engine.begin() as conn:
            conn.execute(update(leads).where(leads.c.id == lead_id).values(received_at=arrived))
        for i, step in enumerate(STEPS[status]):
            change = Change(step, value=extra * 100 if step == "won" else None,
                            reason=extra if step == "lost" else None)
            stages.change_status(stack.engine, sales, lead_id, change, "maya@fernleaf.example",
                                   now=arrived + timedelta(minutes=25 + 40 * n + 60 * i))


def others_won(stack) -> int:
    """Pounds won, this month, by other journeys on the session's shared stack (the lead page's '6.2k')."""
    since = utcnow() - timedelta(days=28)
    with stack.engine.connect() as conn:
        pence = conn.execute(select(func.coalesce(func.sum(leads.c.deal_value), 0)).where(
            leads.c.status == "won", leads.c.received_at >= since, leads.c.email.not_like("report.%"))).scalar_one()
    return int(pence) // 100


@pytest.fixture(scope="module")
def history(site_stack):
    """The month above, made once for the module's journeys."""
    make_history(site_stack)


def test_marketing_reads_the_report(site_stack, history, inbox, open_page, axe_source):
    desk = sign_in(site_stack, inbox, open_page, axe_source, PRIYA)
    desk.get_by_role("link", name="Report", exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Report: leads by source")
    table = desk.locator("table.report")
    for source in ("google", "newsletter", "linkedin", "(direct or unknown)"):
        expect(table.locator("tbody th", has_text=source)).to_be_visible()
    expect(table.locator("tfoot")).to_contain_text(f"£{31_000 + others_won(site_stack):,}")
    for name in ("Visitors and leads per day", "Open pipeline", "Leads per day by source",
                 "Won revenue per day by source", "Funnel: from views to won"):
        expect(desk.get_by_role("heading", name=name)).to_be_visible()
    expect(desk.get_by_role("img", name="Funnel: views, leads, contacted, consultation, won")).to_be_visible()
    no_axe_violations(desk, axe_source)
    desk.screenshot(path=str(shot("desk-report.png")), full_page=True)
    readme = ROOT / "handbook" / "images"
    readme.mkdir(exist_ok=True)
    shutil.copyfile(shot("desk-report.png"), readme / "desk-report.png")

    # Sorting by a column heading, a chart's numbers as a table, and a bad date: all without script.
    desk.get_by_role("link", name=re.compile(r"^Won revenue\W+sort highest first$")).click()
    expect(desk.locator("th[aria-sort=descending]")).to_contain_text("Won revenue")
    expect(table.locator("tbody tr").first.locator("th")).to_have_text("google")
    desk.get_by_text("Funnel: the numbers as a table").click()
    expect(desk.get_by_role("table", name="Funnel")).to_be_visible()
    no_axe_violations(desk, axe_source)
    desk.get_by_label("From", exact=True).fill("2026-12-31")
    desk.get_by_label("Until (included)").fill("2026-01-01")
    desk.get_by_role("button", name="Show the report").click()
    expect(desk.get_by_role("alert")).to_contain_text("after it ends")
    no_axe_violations(desk, axe_source)


OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_marketing_reads_the_report_on_a_phone(site_stack, history, inbox, browser, axe_source):
    contexts = []

    def phone(url: str):
        context = browser.new_context(locale="en-GB", timezone_id="Europe/London", **DEVICES["phone"])
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        return page
    try:
        desk = sign_in(site_stack, inbox, phone, axe_source, PRIYA)
        desk.goto(site_stack.site_url + "/desk/report")
        expect(desk.get_by_role("heading", level=1)).to_have_text("Report: leads by source")
        assert desk.evaluate(OVERFLOW) == 0  # nothing wider than the phone: no sideways scrolling of the page
        for chart in desk.locator("svg.chart").all():
            box = chart.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        table = desk.get_by_role("region", name="The numbers by source, table (scrolls sideways)")
        expect(table).to_have_attribute("tabindex", "0")
        assert table.evaluate("el => el.scrollWidth > el.clientWidth")  # the table scrolls inside its region
        expect(desk.get_by_role("region", name="Open pipeline by stage, table")).to_be_visible()
        no_axe_violations(desk, axe_source)
        # The first screen from the headline figures: the figures, the chart over time, the pipeline.
        desk.locator("dl.kpis").evaluate("el => el.scrollIntoView()")
        desk.screenshot(path=str(shot("desk-report-phone.png")))
        shutil.copyfile(shot("desk-report-phone.png"), ROOT / "handbook" / "images" / "desk-report-phone.png")

        row = table.locator("tbody tr", has=desk.locator("th", has_text="google"))
        leads = int(row.locator("td").nth(4).inner_text())  # views, visitors, visits, bounce rate, leads
        row.get_by_role("link").click()
        expect(desk.get_by_role("status")).to_contain_text("Only leads with source: google (first touch)")
        expect(desk.locator("a[href^='/desk/leads/']")).to_have_count(leads)
        assert desk.evaluate(OVERFLOW) == 0
        no_axe_violations(desk, axe_source)
    finally:
        for context in contexts:
            context.close()
