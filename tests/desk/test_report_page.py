"""The desk's report page: who sees it, the numbers of a known history, sorting, CSV, charts.

Every test runs on SQLite and on PostgreSQL. The history is made as production makes it:
leads through the form API, views through the beacon's counting function, statuses through
the pipeline, with the clock injected.
"""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest

from capture.reports import charts
from capture.traffic import counts
from capture.pipeline.stages import Change

from tests.core.test_page_titles import built
from tests.desk.test_desk import MAYA, PRIYA, TOM, sign_in
# The same history helpers as the report's own tests, from Tuesday 3 November 2026, 10:00 GMT.
from tests.reports.test_report import ARRIVED, clock, ext, lead, move  # noqa: F401  (clock: fixture)

PERIOD = "since=2026-11-02&until=2026-11-15"  # two weeks, Monday to Sunday
SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def views(app, n: int, ip_prefix: str, path: str, at: datetime = ARRIVED, **utm) -> None:
    for i in range(n):
        counts.count_view(ext(app).engine, counts.View(path=path, **utm),
                          (f"{ip_prefix}.{i}", "Firefox", "www.fernleaf.example"), at, ext(app).settings.timezone)


@pytest.fixture
def history(app, client, consultation, clock) -> dict:
    """Week 1: 10 google/autumn visitors, 2 leads (one won £8,500, one lost on price); 5 newsletter
    visitors, 1 lead (contacted). Week 2: 1 google lead, new. Plus a lead before the period."""
    google = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "autumn"}
    views(app, 10, "10.0.0", "/services/", **google)
    views(app, 5, "10.0.1", "/blog/fast-websites/", utm_source="newsletter", utm_campaign="winter")
    first = {"first_utm_source": "google", "first_utm_medium": "cpc", "first_utm_campaign": "autumn"}
    ids = {"won": lead(client, consultation, 1, **first),
           "lost": lead(client, consultation, 2, **first),
           "news": lead(client, consultation, 3, first_utm_source="newsletter", first_utm_campaign="winter")}
    move(app, ids["won"], 30, Change("contacted"), Change("consultation"), Change("won", value=850_000))
    move(app, ids["lost"], 60, Change("contacted"), Change("lost", reason="price"))
    move(app, ids["news"], 90, Change("contacted"))
    clock(ARRIVED + timedelta(days=7))
    ids["later"] = lead(client, consultation, 4, **first)
    clock(ARRIVED - timedelta(days=20))
    ids["before"] = lead(client, consultation, 5, **first)
    clock(ARRIVED)
    return ids


def page(client, query: str = ""):
    return client.get(f"/desk/report?{query}")


def table_rows(html: str) -> list[str]:
    """The report table's rows as text."""
    body = html.split('<table class="report">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in body.split("</tr>")[:-1]]


# --- who sees it ------------------------------------------------------------------------

def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path, sign_in_url in (("/desk/report", "/desk/sign-in?next=/desk/report"),
                              ("/desk/report.csv", "/desk/sign-in")):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == sign_in_url


@pytest.mark.parametrize("email", [PRIYA, TOM, MAYA])
def test_marketing_sales_and_managers_see_it_and_its_nav_link(app, client, email):
    sign_in(app, client, email)
    response = page(client)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<a href="/desk/report">Report</a>' in html and "<h1>Report: leads by source</h1>" in html
    assert '<a href="/desk/report">Report</a>' in client.get("/desk/").get_data(as_text=True)


def test_someone_without_a_report_role_is_refused(app, client, monkeypatch):
    sign_in(app, client, PRIYA)
    monkeypatch.setattr("capture.desk.report_page.REPORT_ROLES", frozenset({"nobody"}))
    for path in ("/desk/report", "/desk/report.csv"):
        response = client.get(path)
        assert response.status_code == 403 and "Not for your role" in response.get_data(as_text=True)


# --- the numbers --------------------------------------------------------------------------

def test_priya_sees_the_numbers_of_the_period_by_campaign(app, client, history):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=campaign&touch=first&{PERIOD}").get_data(as_text=True)
    assert "Leads that arrived from 2 November 2026 to 15 November 2026" in html
    rows = table_rows(html)
    # campaign, views, visitors, visits, bounce rate, leads, per 100 visits, contacted, median,
    # p90, n, still waiting, self-booked (tests/pipeline/test_speed.py), consult., meetings, held,
    # no-shows (tests/reports/test_meetings_report.py), proposals, won, lost, win rate (the counts:
    # fewer than 5 decided), revenue, per 100 visits, lost reasons. Most leads first. Every visitor
    # made one visit of one page (100% bounces). A won lead got past the proposal stage; £8,500
    # from 10 visits is £85,000 per 100. Autumn's week-2 lead still waits, 0 working minutes old
    # at the clock (ARRIVED): 0, 30 and 60 minutes.
    assert rows == [
        "autumn 10 10 10 100.0% 3 30.0 2 30 min 1 h 00 min 3 1 0 1 0 0 0 1 1 1 1 of 2 £8,500 £85,000 price (1)",
        "winter 5 5 5 100.0% 1 20.0 1 1 h 30 min 1 h 30 min 1 0 0 0 0 0 0 0 0 0 – £0 £0 –",
    ]
    foot = html.split('<table class="report">', 1)[1].split("<tfoot>", 1)[1].split("</tfoot>", 1)[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", foot)).strip()
    assert text == ("Total 15 15 15 100.0% 4 26.7 3 45 min 1 h 30 min 4 1 0 1 0 0 0 1 1 1 1 of 2 £8,500 £56,667 "
                    "price (1)")
    assert 'aria-sort="descending"' in html  # by leads, the default


def test_lead_dimensions_show_a_dash_for_views(app, client, history):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=owner&{PERIOD}").get_data(as_text=True)
    rows = table_rows(html)
    assert rows and all(re.match(r"(Maya Patel|Tom \w+|\(none\)) – – – – \d+ – ", r) for r in rows), rows
    foot = html.split('<table class="report">', 1)[1].split("<tfoot>", 1)[1].split("</tfoot>")[0]
    foot = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", foot)).strip()
    assert foot.startswith("Total 15 15 15 100.0% 4 26.7 ")  # the period's visits are still there in all


def test_sorting_by_a_column_header_link(app, client, history):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=campaign&{PERIOD}&sort=campaign&dir=desc").get_data(as_text=True)
    assert [r.split()[0] for r in table_rows(html)] == ["winter", "autumn"]
    assert re.search(r'<th scope="col" aria-sort="descending">\s*<a href="[^"]*sort=campaign', html)
    # The sorted column's link turns the order round; another column's starts highest first.
    assert re.search(r'href="[^"]*sort=campaign&amp;dir=asc"[^>]*>Campaign<span class="visually-hidden">, sort A to Z', html)
    assert re.search(r'href="[^"]*sort=views&amp;dir=desc"[^>]*>Views<span class="visually-hidden">, sort highest first', html)
    html = page(client, f"by=campaign&{PERIOD}&sort=revenue_pence&dir=asc").get_data(as_text=True)
    assert [r.split()[0] for r in table_rows(html)] == ["winter", "autumn"]
    html = page(client, f"by=campaign&{PERIOD}&sort=win_rate&dir=asc").get_data(as_text=True)
    assert [r.split()[0] for r in table_rows(html)] == ["autumn", "winter"]  # no win rate: last


@pytest.mark.parametrize("query, message", [
    ("since=2026-13-01", "is not a date the report can use"),
    ("until=yesterday", "is not a date the report can use"),
    ("since=0001-01-01", "is not a date the report can use"),
    ("since=2026-W50-1", "is not a date the report can use"),  # an ISO week date is not one
    ("since=2026-11-10&until=2026-11-01", "The period starts (10 Nov 2026) after it ends (1 Nov 2026)"),
    ("by=nothing", "There is no report by"),
    ("by=<b>x</b>", "There is no report by &#39;&lt;b&gt;x&lt;/b&gt;&#39;"),
    ("touch=middle", "Credit the first or the last touch"),
    ("sort=password", "cannot be sorted by that"),
    ("dir=sideways", "Sort ascending"),
])
def test_bad_parameters_are_a_400_with_a_message(app, client, query, message):
    sign_in(app, client, PRIYA)
    response = page(client, query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'role="alert"' in html and "<form" in html
    assert client.get(f"/desk/report.csv?{query}").status_code == 400


def test_a_campaign_named_like_a_script_is_shown_as_text(app, client, consultation, clock):
    lead(client, consultation, 1, first_utm_campaign="<script>alert(1)</script>", first_utm_source="<b>src</b>")
    sign_in(app, client, PRIYA)
    for by, shown in (("campaign", "&lt;script&gt;alert(1)&lt;/script&gt;"), ("source", "&lt;b&gt;src&lt;/b&gt;")):
        html = page(client, f"by={by}&since=2026-11-01&until=2026-11-30").get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "<b>src</b>" not in html
        assert shown in html.split('<table class="report">')[1]  # the table, with its link to the inbox
        assert shown in SVG.findall(html)[1]  # the leads chart follows the grouping
        for svg in SVG.findall(html):
            ET.fromstring(svg)


# --- CSV ------------------------------------------------------------------------------------

def test_the_csv_has_the_header_rows_and_totals_and_cannot_trick_a_spreadsheet(app, client, consultation, clock):
    lead(client, consultation, 1, first_utm_campaign="=HYPERLINK(\"http://x\")")
    lead(client, consultation, 2, first_utm_campaign="autumn")
    sign_in(app, client, PRIYA)
    response = client.get("/desk/report.csv?by=campaign&since=2026-11-01&until=2026-11-30&sort=campaign&dir=asc")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="report-campaign-first-2026-11-01-to-2026-11-30.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == ["campaign", "views", "visitors", "visits", "bounce_rate", "leads", "leads_per_100_visits",
                             "contacted", "median_first_contact_minutes", "p90_first_contact_minutes",
                             "first_contact_n", "still_waiting", "self_booked", "consultations", "meetings", "held",
                             "no_shows", "proposals", "won", "lost",
                             "win_rate", "revenue_pence", "revenue_per_100_visits_pence", "top_lost_reasons"]
    assert [r["campaign"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "autumn", "(total)"]
    assert rows[-1]["leads"] == "2"


def test_the_page_links_to_the_csv_with_the_same_choices(app, client, history):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=source&touch=last&{PERIOD}").get_data(as_text=True)
    link = re.search(r'<a href="(/desk/report\.csv\?[^"]+)" download>Download CSV', html)[1].replace("&amp;", "&")
    assert all(part in link for part in ("by=source", "touch=last", "since=2026-11-02", "until=2026-11-15"))
    assert client.get(link).status_code == 200


# --- charts -----------------------------------------------------------------------------------

def test_the_page_has_four_charts_with_text_equivalents(app, client, history):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=campaign&{PERIOD}").get_data(as_text=True)
    svgs = SVG.findall(html)
    assert len(svgs) == 4
    ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.get("role") == "img" and root.find(f"{ns}title").text and root.find(f"{ns}desc").text
        assert root.get("width") == "100%" and root.get("viewBox").startswith("0 0 720 ")  # scales to its box
        assert all(el.tag in {f"{ns}{t}" for t in ("title", "desc", "rect", "line", "text")} for el in root)
    assert "<script" not in html and "cdn" not in html.lower() and "http" not in "".join(svgs).replace(
        "http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere
    assert html.count('class="chart-data"') == 4
    visitors_svg, leads_svg, revenue_svg, funnel_svg = svgs
    # Two weeks: a bar a day, grouped by the chosen dimension (campaign), not by source.
    assert ("Per day, 14 days from 2 Nov 2026: 15 visitors and 4 leads in all. Most visitors on 3 Nov 2026 (15). "
            "Most leads on 3 Nov 2026 (3).") in visitors_svg
    assert ("Leads per day, 14 days from 2 Nov 2026: 4 in all; by campaign: autumn 3, winter 1. "
            "Most on 3 Nov 2026 (3).") in leads_svg
    assert "Won revenue per day by campaign" in revenue_svg and "£8,500" in revenue_svg
    assert "Views 15; Leads 4 (26.7% of views); Contacted 3 (75.0% of leads); " \
           "Consultation 1 (33.3% of contacted); Won 1 (100.0% of consultation)." in funnel_svg
    for heading in ("Visitors and leads per day", "Leads per day by campaign", "Won revenue per day by campaign"):
        assert f">{heading}</h2>" in html


@pytest.mark.parametrize("by, legend", [("source", {"google", "newsletter"}), ("campaign", {"autumn", "winter"}),
                                        ("owner", {"Maya Patel", "Tom Reid"}), ("form", {"consultation"})])
def test_the_charts_follow_the_grouping(app, client, history, by, legend):
    sign_in(app, client, PRIYA)
    html = page(client, f"by={by}&{PERIOD}").get_data(as_text=True)
    leads_svg = SVG.findall(html)[1]
    named = set(re.findall(r"<text [^>]*font-size=\"13\">([^<]+)</text>", leads_svg))  # the legend
    assert legend <= named and f"Leads per day by {by}" in leads_svg
    assert not {"google", "autumn"} - legend & named  # no other grouping's keys


@pytest.mark.parametrize("since, until, per, bars", [
    ("2026-11-01", "2026-12-01", "day", 31),  # 31 days: daily
    ("2026-11-01", "2026-12-02", "week", 6),  # 32 days: weekly, Mondays 26 Oct to 30 Nov
    ("2026-01-01", "2026-11-30", "month", 11),  # months
])
def test_daily_bars_up_to_31_days_weekly_then_monthly(app, client, history, since, until, per, bars):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=source&since={since}&until={until}").get_data(as_text=True)
    visitors_svg = SVG.findall(html)[0]
    assert f"Per {per}, {bars} {per}s from " in visitors_svg
    table = html.split("Visitors and leads per " + per + "</caption>", 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert table.count("<tr>") == bars


def test_won_revenue_is_never_drawn_in_red(app, client, history):
    sign_in(app, client, PRIYA)
    html = page(client, f"by=campaign&{PERIOD}").get_data(as_text=True)
    revenue_svg = SVG.findall(html)[2]
    fills = set(re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"', revenue_svg))
    assert fills  # the bar and the legend's swatches

    def reddish(colour: str) -> bool:
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return r - max(g, b) > 0x30
    assert not any(reddish(c) for c in fills) and not any(reddish(c) for c in charts.PALETTE)
    assert charts.PALETTE[0] in fills  # the first campaign's revenue: the desk's own green


def test_pages_are_named_by_their_titles_from_the_built_site(make_app, tmp_path, consultation, clock):
    built(tmp_path / "site", {"/": "<title>Home</title>",
                              "/services/": '<title>x</title><meta property="og:title" content="Packages &amp; prices">'})
    app = make_app(site_dir=str(tmp_path / "site"))
    client = app.test_client()
    views(app, 3, "10.0.2", "/services/")
    views(app, 2, "10.0.3", "/old-page/")  # no title in the build: shown as its path
    lead(client, consultation, 1, landing_page="https://www.fernleaf.example/services/")
    sign_in(app, client, PRIYA)
    html = page(client, f"by=landing_page&{PERIOD}").get_data(as_text=True)
    assert ">Packages &amp; prices</a><span class=\"path\">/services/</span></th>" in html
    assert '<th scope="row">/old-page/</th>' in html
    assert "by landing page: Packages &amp; prices 1." in SVG.findall(html)[1]  # the charts name it too
    csv_text = client.get(f"/desk/report.csv?by=landing_page&{PERIOD}").get_data(as_text=True)
    assert "/services/," in csv_text and "Packages" not in csv_text  # the data keeps the path


def test_an_empty_period_shows_zeros_and_empty_charts(app, client):
    sign_in(app, client, PRIYA)
    response = page(client)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No views and no leads in this period." in html and "No leads in the" in html
