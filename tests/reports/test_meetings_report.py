"""Meetings booked, held and no-shows in the report (capture/reports/meetings.py), by source, page
and campaign, on SQLite and PostgreSQL. Bookings through the API, outcomes through the booking
package, the clock injected.
"""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from capture.booking import appointments, outcomes
from capture.reports import digest, formats, report
from tests.booking.test_appointments import MAYA, ext, first_slots, one_host, visitor  # noqa: F401
from tests.desk.test_desk import sign_in
from tests.reports.test_report import AUTUMN, POST

MONTH = (date(2026, 12, 1), date(2027, 1, 1))


@pytest.fixture
def meetings(make_app, one_host, clock):  # noqa: F811
    """Five booked leads, the clock after their meetings: autumn held, autumn no-show, autumn not
    answered yet, a blog-post lead's no-show, and an unattributed one cancelled."""
    app = make_app(sales=str(one_host))
    client = app.test_client()
    ids = {}
    for n, (name, fields) in enumerate((("held", AUTUMN), ("missed", AUTUMN), ("unanswered", AUTUMN),
                                        ("blog_missed", POST), ("cancelled", {}))):
        response = client.post("/api/forms/consultation", json={**visitor(n, first_slots(client)[0]["start"]),
                                                                  **fields})
        assert response.status_code == 201, response.json
        ids[name] = response.json["id"]
    cap = ext(app)
    made = {name: appointments.latest(cap.engine, lead_id) for name, lead_id in ids.items()}
    appointments.cancel(cap.engine, cap.sales, made["cancelled"]["id"], MAYA, cap.mail_domain, clock.moment)
    now = clock.set(max(m["ends_at"] for m in made.values()) + timedelta(minutes=1))
    for name, outcome in (("held", "held"), ("missed", "no_show"), ("blog_missed", "no_show")):
        outcomes.record_outcome(cap.engine, cap.sales, made[name]["id"], outcome, MAYA, now)
    return app, made


def counts(app, by: str) -> dict:
    found = report.report(ext(app).engine, ext(app).settings.timezone, by, "first", *MONTH, calendar=ext(app).sales.calendar)
    return {row[by]: (row["consultations"], row["meetings"], row["held"], row["no_shows"])
            for row in found.records()}


def test_meetings_held_and_no_shows_by_campaign_source_and_landing_page(meetings):
    app, made = meetings
    # consultations (leads that got that far), meetings not cancelled, held, no-shows
    autumn, other = (3, 3, 1, 1), (2, 1, 0, 1)
    total = (5, 4, 1, 2)
    assert counts(app, "campaign") == {"autumn": autumn, report.UNKNOWN: other, report.TOTAL: total}
    assert counts(app, "source") == {"google": autumn, report.UNKNOWN: other, report.TOTAL: total}
    assert counts(app, "landing_page") == {
        "/services/": autumn, "/blog/fast-websites/": (1, 1, 0, 1), report.UNKNOWN: (1, 0, 0, 0),
        report.TOTAL: total}
    assert counts(app, "campaign")[report.TOTAL] == counts(app, "owner")[report.TOTAL]


def test_the_last_answer_counts_in_the_report(meetings, clock):
    app, made = meetings
    cap = ext(app)
    outcomes.record_outcome(cap.engine, cap.sales, made["missed"]["id"], "held", MAYA, clock.advance(hours=1))
    assert counts(app, "campaign")["autumn"] == (3, 3, 2, 0)


def test_the_csv_and_the_desk_page_carry_the_columns(meetings):
    app, made = meetings
    found = report.report(ext(app).engine, ext(app).settings.timezone, "campaign", "first", *MONTH, calendar=ext(app).sales.calendar)
    out = io.StringIO()
    formats.write_report_csv(out, found)
    header, *lines = out.getvalue().splitlines()
    assert "consultations,meetings,held,no_shows,proposals" in header
    assert lines[-1].startswith("(total),") and ",5,4,1,2," in lines[-1]
    assert "no-shows" in formats.text_table(found).splitlines()[2]
    client = app.test_client()
    sign_in(app, client, MAYA)
    page = client.get("/desk/report?by=campaign&since=2026-12-01&until=2026-12-31").get_data(as_text=True)
    assert "No-shows" in page and "Meetings held" in page


def test_the_weekly_digest_gives_the_no_shows_of_the_weeks_leads(meetings, clock):
    app, made = meetings
    cap = ext(app)
    ctx = digest.context(cap.engine, cap.sales, cap.settings.timezone, digest.Week(date(2026, 12, 7)),
                         "http://x/desk/report", clock.moment)
    figure = {f["label"]: f for f in ctx["figures"]}["No-shows at consultations"]
    assert (figure["now"], figure["then"]) == ("2", "0")
