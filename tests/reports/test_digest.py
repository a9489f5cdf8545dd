"""The weekly digest (capture/reports/digest.py): once a week for any number of workers, the same numbers as the report."""
from __future__ import annotations

import email
import email.policy
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from capture.reports import digest
from capture.traffic import counts
from capture.pipeline import stages
from capture.core.clock import utcnow
from capture.db.models import leads, outbox
from capture.pipeline.stages import Change
from capture.delivery.worker import Worker
from capture.delivery.registry import Kind

LONDON = ZoneInfo("Europe/London")
# Which week is "last week", and whether Monday 08:00 has passed, follow the clock (a Wednesday).
pytestmark = pytest.mark.usefixtures("clock")
READERS = {"maya@fernleaf.example", "tom@fernleaf.example", "priya@fernleaf.example"}


def ext(app):
    return app.extensions["capture"]


def at(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LONDON)


def digests(app) -> list[dict]:
    with ext(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.kind == Kind.DIGEST)).mappings()]


def test_the_weeks(app):
    wednesday = at(utcnow().astimezone(LONDON).date(), 12)
    week = digest.last_week(wednesday, LONDON)
    assert week.start.weekday() == 0 and week.end - week.start == timedelta(days=7)
    assert week.start < wednesday.date() - timedelta(days=wednesday.weekday()) <= week.end
    assert digest.Week(datetime(2026, 11, 23).date()).label == "2026-W48"


def viewed(app, day, n: int = 1) -> None:
    """`n` page views on `day` (business time): data for the digest to speak of."""
    for i in range(n):
        counts.count_view(ext(app).engine, counts.View(path="/"), (f"10.9.0.{i}", "Firefox", "x"), at(day, 12), LONDON)


def arrived(app, day, spam: bool = False) -> str:
    """A lead that arrived on `day` at 10:00 business time (spam if asked)."""
    client = app.test_client()
    lead_id = client.post("/api/forms/contact", json={
        "name": "Early Bird", "email": "early@example.com", "message": "A new site for our bakery, please.",
        "consent": True, "time_on_form": "60000"}).json["id"]
    with ext(app).engine.begin() as conn:
        conn.execute(update(leads).where(leads.c.id == lead_id).values(received_at=at(day, 10), spam=spam))
    return lead_id


def this_monday():
    today = utcnow().astimezone(LONDON).date()
    return today - timedelta(days=today.weekday())


def test_queued_once_a_week_by_two_workers_not_before_monday_eight_and_caught_up_after(make_app):
    app = make_app(digest="1")
    monday = utcnow().astimezone(LONDON).date() + timedelta(days=7 - utcnow().astimezone(LONDON).weekday())
    viewed(app, monday - timedelta(days=14))  # the business has had data since the week before last
    one, two = Worker(ext(app)), Worker(ext(app))
    one.schedule_chores(at(monday, 7, 59))
    assert digests(app) == []  # Monday 07:59: last week's is not due yet
    one.schedule_chores(at(monday, 8, 5))
    two.schedule_chores(at(monday, 8, 5))
    fresh = Worker(ext(app))  # a third, started later the same week
    fresh.schedule_chores(at(monday + timedelta(days=2), 10))
    rows = digests(app)
    assert {r["recipient"] for r in rows} == READERS and len(rows) == 3
    assert {r["ref"] for r in rows} == {(monday - timedelta(days=7)).isoformat()}
    # A worker down all Monday queues it once when it is back on Tuesday (another week).
    later = Worker(ext(app))
    later.schedule_chores(at(monday + timedelta(days=8), 9))
    assert len(digests(app)) == 6


def test_the_digest_has_last_weeks_numbers_against_the_week_before(make_app, tmp_path):
    app = make_app(digest="1")
    client = app.test_client()
    week = digest.last_week(utcnow(), LONDON)

    def lead(day, campaign: str, n: int) -> str:
        lead_id = client.post("/api/forms/contact", json={
            "name": f"Person {n}", "email": f"p{n}@example.com", "message": "A new site for our shop, please.",
            "consent": True, "time_on_form": "60000", "first_utm_campaign": campaign,
            "landing_page": "https://www.fernleaf.example/blog/local-seo-guide/"}).json["id"]
        with ext(app).engine.begin() as conn:
            conn.execute(update(leads).where(leads.c.id == lead_id).values(received_at=at(day, 10)))
        return lead_id

    won = lead(week.start + timedelta(days=1), "winter", 1)
    lead(week.start + timedelta(days=2), "winter", 2)
    lead(week.start + timedelta(days=3), "spring", 3)
    lead(week.start - timedelta(days=3), "autumn", 4)  # the week before
    stages.change_status(ext(app).engine, ext(app).sales, won, Change("contacted"), "maya@fernleaf.example")
    stages.change_status(ext(app).engine, ext(app).sales, won, Change("won", value=480000), "maya@fernleaf.example")
    ctx = digest.context(ext(app).engine, ext(app).sales, LONDON, week, "http://x/desk/report", utcnow())
    figures = {f["label"]: f for f in ctx["figures"]}
    assert (figures["Leads"]["now"], figures["Leads"]["then"], figures["Leads"]["change"]) == ("3", "1", 200)
    assert (figures["Won"]["now"], figures["Revenue"]["now"]) == ("1", "£4,800")
    assert [(r["key"], r["leads"]) for r in ctx["campaigns_by_leads"]] == [("winter", 2), ("spring", 1)]
    assert [(r["key"], r["revenue"]) for r in ctx["campaigns_by_revenue"]] == [("winter", "£4,800")]
    assert ctx["waiting_count"] == 3  # still new: two of last week's and the one before

    # The worker queues it (it is past Monday 08:00 of this week) and sends one to each reader.
    Worker(ext(app)).run_once()
    sent = {r["recipient"]: r["status"] for r in digests(app)}
    assert sent == dict.fromkeys(READERS, "sent")
    found = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in (tmp_path / "mail").glob("*.eml")]
    mine = [m for m in found if str(m["Subject"]).startswith(f"Fernleaf weekly numbers, {week.label}: 3 leads")]
    assert len(mine) == 3 and all("winter" in m.get_body(("plain",)).get_content() for m in mine)


def test_the_cli_previews_and_sends(app):
    runner = app.test_cli_runner()
    preview = runner.invoke(args=["digest", "--preview"])
    assert preview.exit_code == 0 and preview.output.startswith("Fernleaf weekly numbers, ")
    assert "Still waiting for a first reply: 0" in preview.output
    sent = runner.invoke(args=["digest", "--send"])
    assert sent.exit_code == 0 and "queued for 3 reader(s)" in sent.output
    assert len(digests(app)) == 3
    both = runner.invoke(args=["digest"])
    assert both.exit_code == 2 and "--preview" in both.output


def test_a_reader_who_left_the_team_gets_none(make_app, tmp_path):
    app = make_app(digest="1")
    viewed(app, this_monday() - timedelta(days=7))
    Worker(ext(app)).schedule_chores(utcnow())  # last week's digest is queued
    with ext(app).engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.recipient == "tom@fernleaf.example")
                     .values(recipient="gone@fernleaf.example"))
    Worker(ext(app)).run_once()
    states = {r["recipient"]: r["status"] for r in digests(app)}
    assert states["gone@fernleaf.example"] == "dropped"
    with ext(app).engine.connect() as conn:
        assert conn.execute(select(func.count()).where(outbox.c.status == "sent",
                                                      outbox.c.kind == Kind.DIGEST)).scalar() == 2


def test_off_means_no_digest(app):
    Worker(ext(app)).schedule_chores(utcnow() + timedelta(days=7))
    assert digests(app) == []


# --- the first digest waits for a full week of data --------------------------------------------

def test_no_data_no_digest_however_many_mondays_pass(make_app):
    app = make_app(digest="1")
    for weeks in range(3):
        Worker(ext(app)).schedule_chores(at(this_monday() + timedelta(weeks=weeks + 1), 9))
    assert digests(app) == []


def test_the_first_digest_is_the_first_week_wholly_after_the_first_day_of_data(make_app):
    """Data from a Tuesday: the Monday after, that week (six days of data) is not reported; a week later it is."""
    app = make_app(digest="1")
    monday = this_monday() + timedelta(days=7)  # next Monday; the clock is earlier
    arrived(app, monday - timedelta(days=30), spam=True)  # spam is not the business's data
    viewed(app, monday - timedelta(days=6), n=3)  # Tuesday of last week
    Worker(ext(app)).schedule_chores(at(monday, 8, 5))
    assert digests(app) == []  # last week began the day before the first view
    Worker(ext(app)).schedule_chores(at(monday + timedelta(days=7), 8, 5))
    rows = digests(app)
    assert {r["ref"] for r in rows} == {monday.isoformat()} and {r["recipient"] for r in rows} == READERS
    assert {r["status"] for r in rows} == {"pending"}


def test_a_first_lead_on_a_monday_makes_that_week_the_first_reported(make_app):
    app = make_app(digest="1")
    monday = this_monday() + timedelta(days=7)
    assert not digest.full_week(ext(app).engine, LONDON, digest.Week(monday - timedelta(days=7)))
    arrived(app, monday - timedelta(days=7))  # a lead at 10:00 on the Monday of last week
    assert digest.first_day(ext(app).engine, LONDON) == monday - timedelta(days=7)
    Worker(ext(app)).schedule_chores(at(monday, 8, 5))
    assert {r["ref"] for r in digests(app)} == {(monday - timedelta(days=7)).isoformat()}
