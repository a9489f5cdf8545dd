"""The open pipeline by stage (capture/reports/open_pipeline.py), on SQLite and PostgreSQL.

Leads through the form API, statuses through the pipeline, the clock injected; the prices are
the site's own (mkdocs.yml extra.packages), read as the report reads them.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from sqlalchemy import update

from capture.db.models import leads
from capture.pipeline.stages import Change
from capture.reports import open_pipeline

from tests.desk.test_desk import PRIYA, sign_in
from tests.reports.test_report import ARRIVED, clock, ext, lead, move  # noqa: F401  (clock: fixture)

PERIOD = (date(2026, 11, 2), date(2026, 11, 16))
SITE_CONFIG = yaml.load(open_pipeline.SITE_CONFIG.read_text(), Loader=yaml.BaseLoader)
PRICE = {p["id"]: int(p["price_from"]) * 100 for p in SITE_CONFIG["extra"]["packages"]}


@pytest.fixture
def pipeline(app, client, consultation, clock) -> dict:
    """In the period: 2 new (ecommerce, starter), 1 contacted (business), 1 at proposal (no service),
    1 won, 1 lost, 1 spam; before it, 1 new."""
    ids = {"new": lead(client, consultation, 1), "starter": lead(client, consultation, 2, service="starter"),
           "contacted": lead(client, consultation, 3, service="business"),
           "proposal": lead(client, consultation, 4, service="unsure"),
           "won": lead(client, consultation, 5), "lost": lead(client, consultation, 6)}
    move(app, ids["contacted"], 10, Change("contacted"))
    move(app, ids["proposal"], 10, Change("contacted"), Change("consultation"), Change("proposal"))
    move(app, ids["won"], 10, Change("contacted"), Change("won", value=900_000))
    move(app, ids["lost"], 10, Change("contacted"), Change("lost", reason="price"))
    ids["spam"] = lead(client, consultation, 7)
    with ext(app).engine.begin() as conn:
        conn.execute(update(leads).where(leads.c.id == ids["spam"]).values(spam=True))
    clock(ARRIVED - timedelta(days=20))
    ids["before"] = lead(client, consultation, 8)
    clock(ARRIVED)
    return ids


def test_the_site_prices_are_read_in_pence():
    assert open_pipeline.list_prices() == PRICE and PRICE["ecommerce"] == 850_000


def test_open_leads_of_the_period_by_stage_with_their_value(app, pipeline):
    found = open_pipeline.by_stage(ext(app).engine, ext(app).settings.timezone, *PERIOD, open_pipeline.list_prices())
    assert [(s.stage, s.leads, s.value, s.unpriced) for s in found] == [
        ("new", 2, PRICE["ecommerce"] + PRICE["starter"], 0),
        ("contacted", 1, PRICE["business"], 0),
        ("consultation", 0, 0, 0),
        ("proposal", 1, 0, 1),  # "not sure yet": no starting price
    ]
    wider = open_pipeline.by_stage(ext(app).engine, ext(app).settings.timezone, date(2026, 10, 1), PERIOD[1], {})
    assert wider[0].leads == 3 and wider[0].unpriced == 3 and wider[0].value == 0  # without prices: counted apart


def test_the_report_page_shows_it_with_links_to_the_inbox(app, client, pipeline):
    sign_in(app, client, PRIYA)
    html = client.get("/desk/report?since=2026-11-02&until=2026-11-15").get_data(as_text=True)
    section = html.split('id="h-pipeline"', 1)[1].split("</section>", 1)[0]
    assert "£10,400" in section  # new: £8,500 + £1,900
    assert "£15,200" in section  # all open: + £4,800 for the business site
    new = section.split('<th scope="row">New</th>', 1)[1].split("</tr>", 1)[0]
    href = new.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "status=new" in href and "since=2026-11-02" in href and "until=2026-11-15" in href
    listed = client.get(href).get_data(as_text=True)
    assert pipeline["new"] in listed and pipeline["starter"] in listed
    assert pipeline["before"] not in listed and pipeline["contacted"] not in listed
