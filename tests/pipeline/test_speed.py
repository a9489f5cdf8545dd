"""Speed to lead (capture/pipeline/speed.py): a person's first contact, the waiting leads aged,
the self-booked apart; one figure in the desk's report page, `flask report` and the digest.

A known history, made through the form API and the pipeline with the clock injected, on both
databases. November 2026 is GMT, so London wall-clock times are UTC here; hours 9:00-17:30.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest

from capture.core import urls
from capture.db.store import get_lead
from capture.pipeline import speed, stages
from capture.pipeline.stages import Change
from capture.reports import digest, formats, rates, report
from tests.desk.test_desk import PRIYA, sign_in

MAYA = "maya@fernleaf.example"
WEEK = (date(2026, 11, 2), date(2026, 11, 9))  # Monday 2 to Sunday 8 November
MONDAY_NOON = datetime(2026, 11, 9, 12, 0, tzinfo=timezone.utc)  # when the report is read
# Received, then first contacted (None: still waiting), and the working minutes that makes.
ANSWERED = {  # id: (received, contacted, working minutes)
    "a": (datetime(2026, 11, 2, 9, 0), datetime(2026, 11, 2, 9, 12), 12),
    "b": (datetime(2026, 11, 2, 10, 0), datetime(2026, 11, 2, 11, 12), 72),
    "c": (datetime(2026, 11, 2, 11, 0), datetime(2026, 11, 2, 11, 45), 45),
    "d": (datetime(2026, 11, 2, 16, 0), datetime(2026, 11, 3, 10, 10), 90 + 70),  # overnight
    "e": (datetime(2026, 11, 3, 9, 30), datetime(2026, 11, 3, 9, 35), 5),
    "f": (datetime(2026, 11, 6, 17, 0), datetime(2026, 11, 9, 9, 40), 30 + 40),  # over the weekend
}
# Still waiting at MONDAY_NOON: Tuesday 14:00 is 210 + 3 × 510 + 180; Thursday 11:00 390 + 510 + 180.
WAITING = {"w1": (datetime(2026, 11, 3, 14, 0), 1920), "w2": (datetime(2026, 11, 5, 11, 0), 1080)}
# 5, 12, 45, 70, 72, 160, 1080, 1920: the middle two are 70 and 72; ⌈0.9 × 8⌉ = the 8th.
SAID = "Median 1 h 11 min, p90 32 h 00 min (n = 8, 2 still waiting); 2 booked a time themselves"


def ext(app):
    return app.extensions["capture"]


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc)


@pytest.fixture
def clock(clock):
    """The shared clock, set before the consultation fixture reads "today"."""
    clock.set(utc(ANSWERED["a"][0]))
    return clock


def message(client, n: int) -> str:
    response = client.post("/api/forms/contact", json={"name": f"Visitor {n}", "email": f"v{n}@example.com",
                                                       "message": "Hello", "consent": True})
    assert response.status_code == 201, response.json
    return response.json["id"]


def booked(client, consultation, n: int) -> str:
    """A visitor who picks a free time with the form: answered by nobody."""
    slot = client.get("/api/slots?form=consultation&days=7").json["slots"][n]["start"]
    response = client.post("/api/forms/consultation", json={
        **consultation, "email": f"booker{n}@example.com", "slot": slot, "time_on_form": "60000"})
    assert response.status_code == 201, response.json
    return response.json["id"]


@pytest.fixture
def history(app, client, consultation, clock) -> dict:
    """The leads above, each sent at its time; a and b decided (won, lost); then Monday noon."""
    ext_ = ext(app)
    arrivals = sorted([(received, name) for name, (received, _, _) in ANSWERED.items()]
                      + [(received, name) for name, (received, _) in WAITING.items()])
    ids = {}
    for i, (received, name) in enumerate(arrivals):
        clock.set(utc(received))
        ids[name] = message(client, i)
        if name == "a":
            ids["s1"], ids["s2"] = booked(client, consultation, 0), booked(client, consultation, 1)
    for name, (_, contacted, _) in ANSWERED.items():
        stages.change_status(ext_.engine, ext_.sales, ids[name], Change("contacted"), MAYA, now=utc(contacted))
    stages.change_status(ext_.engine, ext_.sales, ids["a"], Change("won", value=600_000), MAYA,
                         now=utc(datetime(2026, 11, 4, 10)))
    stages.change_status(ext_.engine, ext_.sales, ids["b"], Change("lost", reason="price"), MAYA,
                         now=utc(datetime(2026, 11, 4, 10)))
    clock.set(MONDAY_NOON)
    return ids


def week(app, by: str = "form") -> report.Report:
    return report.report(ext(app).engine, ext(app).settings.timezone, by, "first", *WEEK,
                         calendar=ext(app).sales.calendar)


def _lead(app, lead_id: str) -> dict:
    return get_lead(ext(app).engine, lead_id)


def test_the_stored_minutes_are_the_known_ones(app, history):
    for name, (_, _, minutes) in ANSWERED.items():
        assert _lead(app, history[name])["first_response_minutes"] == minutes, name
    assert _lead(app, history["s1"])["first_response_minutes"] == 0  # stored as before; read apart


def test_the_median_and_p90_count_the_waiting_at_their_age_and_the_self_booked_apart(app, history):
    totals = week(app).totals
    assert {k: totals[k] for k in speed.COLUMNS} == {
        "median_first_contact_minutes": 71.0, "p90_first_contact_minutes": 1920, "first_contact_n": 8,
        "still_waiting": 2, "self_booked": 2}
    assert totals["contacted"] == 8  # six answered by a person, two by booking a time
    assert formats.speed_text(totals) == SAID


def test_each_row_has_the_same_definition(app, history):
    rows = {row["form"]: row for row in week(app).rows}
    # The messages: 5, 12, 45, 70, 72, 160 answered, 1080 and 1920 waiting; the bookings, no one.
    assert {k: rows["contact"][k] for k in speed.COLUMNS} == {
        "median_first_contact_minutes": 71.0, "p90_first_contact_minutes": 1920, "first_contact_n": 8,
        "still_waiting": 2, "self_booked": 0}
    assert {k: rows["consultation"][k] for k in speed.COLUMNS} == {
        "median_first_contact_minutes": None, "p90_first_contact_minutes": None, "first_contact_n": 0,
        "still_waiting": 0, "self_booked": 2}
    assert formats.speed_text(rows["consultation"]) == "No leads to answer; 2 booked a time themselves"


def test_the_waiting_grow_older_with_the_clock(app, history, clock):
    clock.advance(hours=3)  # Monday 15:00: both waiting leads are 180 working minutes older
    totals = week(app).totals
    assert (totals["median_first_contact_minutes"], totals["p90_first_contact_minutes"]) == (71.0, 2100)
    stages.change_status(ext(app).engine, ext(app).sales, history["w1"], Change("contacted"), MAYA)
    totals = week(app).totals  # answered now: its own time, no longer waiting
    assert (totals["p90_first_contact_minutes"], totals["first_contact_n"], totals["still_waiting"]) == (2100, 8, 1)


def test_a_lead_page_says_a_booking_was_the_visitors_own(app, history):
    times = stages.response_times(ext(app).sales, _lead(app, history["s1"]))
    assert times["self_booked"] and not times["waiting"]
    assert not stages.response_times(ext(app).sales, _lead(app, history["a"]))["self_booked"]


def test_the_desk_the_command_and_the_digest_say_the_same(app, client, history):
    sign_in(app, client, PRIYA)
    html = client.get("/desk/report?by=form&since=2026-11-02&until=2026-11-08").get_data(as_text=True)
    assert SAID in re.sub(r"\s+", " ", html)
    out = app.test_cli_runner().invoke(args=["report", "--by", "form", "--since", "2026-11-02",
                                             "--until", "2026-11-09"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1] == f"Working time to first contact: {SAID}"
    cap = ext(app)
    said = digest.context(cap.engine, cap.sales, cap.settings.timezone, digest.Week(WEEK[0]),
                          urls.external("https://example.com", "/desk/report"), MONDAY_NOON)
    first_reply = next(f for f in said["figures"] if f["label"] == "First reply (working time)")
    assert first_reply["now"] == SAID


def test_a_win_rate_of_fewer_than_five_decided_shows_the_counts(app, client, history):
    totals = week(app).totals
    assert (totals["won"], totals["lost"], totals["win_rate"]) == (1, 1, 50.0)  # JSON keeps the number
    assert formats.figure("win_rate", totals["win_rate"], "GBP") == "1 of 2"
    sign_in(app, client, PRIYA)
    html = client.get("/desk/report?by=form&since=2026-11-02&until=2026-11-08").get_data(as_text=True)
    assert "<dt>Win rate</dt><dd>1 of 2</dd>" in html and "50.0%" not in html
    out = app.test_cli_runner().invoke(args=["report", "--by", "form", "--since", "2026-11-02",
                                             "--until", "2026-11-09"]).output
    assert "1 of 2" in out.splitlines()[-3] and "%" not in out


@pytest.mark.parametrize("won, lost, text", [(1, 0, "1 of 1"), (0, 1, "0 of 1"), (3, 1, "3 of 4"),
                                             (3, 2, "60.0%"), (1, 5, "16.7%")])
def test_a_rate_is_a_percentage_from_five_decided(won, lost, text):
    found = rates.rate(won, won + lost)
    assert formats.figure("win_rate", found, "GBP") == text
    assert found == round(100 * won / (won + lost), 2)


@pytest.mark.parametrize("minutes, median, p90", [
    ({5: 1}, 5.0, 5), ({5: 1, 7: 1}, 6.0, 7), ({1: 9, 100: 1}, 1.0, 1), ({1: 8, 100: 2}, 1.0, 100),
    ({3: 2, 4: 1, 10: 1}, 3.5, 10)])
def test_the_median_is_the_middle_and_the_p90_the_nearest_rank(minutes, median, p90):
    found = speed.of_minutes(Counter(minutes))
    assert (found.median, found.p90, found.n) == (median, p90, sum(minutes.values()))
