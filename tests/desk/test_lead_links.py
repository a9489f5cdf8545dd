"""From a report row to its leads (capture/desk/lead_links.py): each row links to the inbox, which lists exactly its leads.

Runs on SQLite and PostgreSQL with the report page's known history (tests/desk/test_report_page.py)
plus a direct visitor who landed on the packages page.
"""
from __future__ import annotations

import html as markup
import re
from datetime import timedelta

import pytest

from capture.desk import lead_links
from capture.pipeline import search
from capture.reports import report

from tests.desk.test_desk import MAYA, PRIYA, sign_in
from tests.desk.test_report_page import PERIOD, history, page  # noqa: F401  (history: fixture)
from tests.reports.test_report import ARRIVED, clock, lead  # noqa: F401  (clock: fixture)

ROW = re.compile(r'<tr>\s*<th scope="row"><a href="([^"]+)">.*?</th>(.*?)</tr>', re.S)
CELL = re.compile(r'<td class="num">([^<]*)</td>')
LEAD = re.compile(r'href="/desk/leads/([^"]+)"')
SITE = "https://www.fernleaf.example"


@pytest.fixture
def leads_of_period(app, client, consultation, history, clock) -> dict:
    """The history's leads of the period (2–15 Nov), plus a direct one that landed on /services/."""
    clock(ARRIVED + timedelta(days=1))
    ids = {**history, "direct": lead(client, consultation, 6, landing_page=f"{SITE}/services/",
                                     page_url=f"{SITE}/contact/")}
    clock(ARRIVED)
    ids.pop("before")  # 14 October: outside the period
    return ids


def row_links(html: str) -> list[tuple[str, int]]:
    """(link, leads) for each linked row of the report's table: leads is the fifth figure (views, visitors, visits, bounce rate, leads)."""
    return [(href, int(CELL.findall(cells)[4].replace(",", ""))) for href, cells in ROW.findall(html)]


def inbox_ids(client, href: str) -> set[str]:
    response = client.get(markup.unescape(href))
    assert response.status_code == 200
    return set(LEAD.findall(response.get_data(as_text=True)))


@pytest.mark.parametrize("touch", ["first", "last"])
@pytest.mark.parametrize("by", ["source", "medium", "campaign", "landing_page", "page", "referrer_host", "form",
                                "service", "owner", "blog_post"])
def test_every_rows_link_opens_exactly_its_leads(app, client, leads_of_period, by, touch):
    sign_in(app, client, MAYA)  # a salesperson's inbox shows their own leads unless a link says otherwise
    html = page(client, f"by={by}&touch={touch}&{PERIOD}").get_data(as_text=True)
    table = html.split('<table class="report">', 1)[1].split("</tbody>", 1)[0]
    links = row_links(table)
    assert links
    seen: set[str] = set()
    for href, n in links:
        found = inbox_ids(client, href)
        assert len(found) == int(n), (href, found)
        assert not found & seen  # each lead in one row
        seen |= found
    # By blog post, the direct lead's pages (/services/, /contact/) are "(other pages)": not one key, no link.
    other_pages = {leads_of_period["direct"]} if by == "blog_post" else set()
    assert seen == set(leads_of_period.values()) - other_pages
    total = re.search(r'<tfoot><tr>\s*<th scope="row"><a href="([^"]+)">Total', html.split('<table class="report">')[1])
    assert inbox_ids(client, total[1]) == set(leads_of_period.values())


def test_a_campaigns_and_the_direct_rows_leads(app, client, leads_of_period):
    sign_in(app, client, PRIYA)
    by_campaign = page(client, f"by=campaign&{PERIOD}").get_data(as_text=True)
    autumn = next(href for href, _ in row_links(by_campaign) if "campaign=autumn" in href)
    assert inbox_ids(client, autumn) == {leads_of_period[k] for k in ("won", "lost", "later")}
    by_source = page(client, f"by=source&{PERIOD}").get_data(as_text=True)
    direct = next(href for href, _ in row_links(by_source) if re.search(r"source=(\(none\)|%28none%29)", href))
    assert inbox_ids(client, direct) == {leads_of_period["direct"]}
    opened = client.get(markup.unescape(direct)).get_data(as_text=True)
    assert "Only leads with source: none recorded (first touch), from 2 Nov 2026, until 15 Nov 2026." in opened
    assert '<input type="hidden" name="source" value="(none)">' in opened  # kept when the filters change
    assert lead_links.described({"owner": "(none)", "service": "starter", "touch": "last", "medium": "cpc",
                                 "until": "2026-11-15"}) == ["medium: cpc (last touch)", "no owner", "until 15 Nov 2026"]


def test_rows_of_no_one_key_and_without_leads_have_no_link(app, client, leads_of_period):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=blog_post&{PERIOD}").get_data(as_text=True)
    assert f'<th scope="row">{report.OTHER_PAGES}</th>' in html  # the direct lead's pages are no post
    assert lead_links.row_params("blog_post", "first", report.OTHER_PAGES, ARRIVED.date(), ARRIVED.date()) is None
    assert lead_links.row_params("page", "first", report.REST, ARRIVED.date(), ARRIVED.date()) is None
    views_only = page(client, f"by=page&{PERIOD}").get_data(as_text=True)
    assert re.search(r'<th scope="row">/blog/fast-websites/', views_only)  # views, no leads: no link


@pytest.mark.parametrize("query, message", [
    ("since=2026-13-01", "From: '2026-13-01' is not a date the inbox can use"),
    ("until=soon", "Until: 'soon' is not a date"),
    ("since=2026-11-20&until=2026-11-02", "From: 20 Nov 2026 is after the last day, 2 Nov 2026."),
    ("touch=middle", "Credit: choose the first or the last touch."),
    ("since=9999-12-31", "between 2000 and 2099"),
])
def test_a_bad_narrowing_is_a_400_naming_the_field(app, client, query, message):
    sign_in(app, client, PRIYA)
    response = client.get(f"/desk/?{query}")
    assert response.status_code == 400 and message in markup.unescape(response.get_data(as_text=True))


def test_the_filters_by_touch_and_days(app, leads_of_period):
    engine = app.extensions["capture"].engine
    tz = app.extensions["capture"].settings.timezone
    narrowed = lead_links.narrowing({"touch": "last", "source": "newsletter", "since": "2026-11-03",
                                     "until": "2026-11-03"}, tz)
    assert narrowed["received_before"] - narrowed["received_from"] == timedelta(days=1)
    found = search.find(engine, search.Filters(status="all", **narrowed))
    assert {r["id"] for r in found} == set()  # the newsletter lead's last touch has no source
    first = search.find(engine, search.Filters(status="all", **{**narrowed, "touch": "first"}))
    assert {r["id"] for r in first} == {leads_of_period["news"]}
