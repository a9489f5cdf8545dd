"""The spam tray's decisions (capture/pipeline/tray.py) and where they show: worker, desk, CLI, mail.

A held lead notifies nobody; "Not spam" gives it an owner and sends what it
missed, once; "Spam" on a delivered lead holds back what it had not sent.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from capture.pipeline import search
from capture.pipeline import stages
from capture.pipeline import tray
from capture.reports import report
from capture.core.clock import utcnow
from capture.db.models import leads, outbox
from capture.pipeline.stages import Change
from capture.db.store import get_lead
from capture.delivery.worker import Worker
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)
from tests.desk.test_desk import MAYA, PRIYA, TOM, csrf, sign_in

PITCH = ("Hello, we offer high quality backlinks from DA 50+ sites. Prices start from only $25 per link: "
         "https://links.example/a https://links.example/b https://bit.ly/x")


def ext(app):
    return app.extensions["capture"]


def post(client, consultation, **changes) -> str:
    response = client.post("/api/forms/consultation", json={**consultation, **changes})
    assert response.status_code == 201
    return response.json["id"]


def jobs(app, lead_id: str) -> dict:
    with ext(app).engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.lead_id == lead_id)).mappings()
        return {row["message_id"].split(".")[2].split("@")[0]: dict(row) for row in rows}


def test_a_spam_verdict_is_held_a_suspect_one_delivered_with_a_warning(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    client = app.test_client()
    held = post(client, consultation, message=PITCH, time_on_form="1200")
    suspect = post(client, consultation, email="bo@other.example",
                   message="We offer high quality backlinks for your site.")
    assert get_lead(ext(app).engine, held)["spam"] is True and jobs(app, held) == {}
    lead = get_lead(ext(app).engine, suspect)
    assert (lead["spam"], lead["verdict"], lead["owner"] is not None) == (False, "suspect", True)
    Worker(ext(app)).run_once()
    to_sales = [m for m in smtp_sink.messages if f".{suspect}.0@" in m.message["Message-ID"]]
    subject = str(to_sales[0].message["Subject"])
    assert subject.startswith("[Check: possible spam] Consultation requested: ")
    text = to_sales[0].message.get_body(("plain",)).get_content()
    assert text.startswith("CHECK: POSSIBLE SPAM") and "  - an SEO or link-building pitch" in text
    html = to_sales[0].message.get_body(("html",)).get_content()
    assert html.index("Check: possible spam") < html.index("What next?")
    assert not [m for m in smtp_sink.messages if f".{held}." in m.message["Message-ID"]]


def test_not_spam_sends_what_was_missed_once_and_the_clock_counts_from_arrival(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    held = post(app.test_client(), consultation, message=PITCH, time_on_form="900")
    later = utcnow()
    with ext(app).engine.begin() as conn:  # it arrived two hours ago
        conn.execute(update(leads).where(leads.c.id == held).values(received_at=later - timedelta(hours=2)))
    event = tray.release(ext(app), held, MAYA, now=later)
    assert event["kind"] == "released" and event["owner"] in (MAYA, TOM)
    assert tray.release(ext(app), held, MAYA) is None  # a second click changes nothing
    lead = get_lead(ext(app).engine, held)
    assert (lead["spam"], lead["released_at"], lead["verdict"]) == (False, later, "spam")
    assert lead["respond_by"] == stages.due_at(ext(app).sales, later, "consultation")
    kinds = {key: job["kind"] for key, job in jobs(app, held).items()}
    # e-commerce goes to shops@ and sales@, and the owner hears too
    assert sorted(kinds.values()) == ["confirm_visitor", "escalate", "notify_sales", "notify_sales",
                                      "notify_sales", "remind_owner"]
    assert jobs(app, held)["remind"]["available_at"] == ext(app).sales.calendar.add(
        later, ext(app).sales.promise("consultation").remind_after)
    Worker(ext(app)).run_once()
    mine = [m for m in smtp_sink.messages if f".{held}." in m.message["Message-ID"]]
    assert len(mine) == 4  # two sales inboxes, the owner, the visitor's confirmation
    assert "released by a teammate" in mine[0].message.get_body(("plain",)).get_content()
    # Speed to lead still counts from when it arrived, not from the release.
    times = stages.response_times(ext(app).sales, lead, now=later)
    assert times["wall_minutes"] == 120.0


def test_spam_on_a_delivered_lead_holds_its_unsent_mail_and_not_spam_sends_it_after_all(make_app, smtp_sink,
                                                                                      consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = post(app.test_client(), consultation)
    assert tray.hold(ext(app), lead_id, TOM)["kind"] == "spam"
    assert tray.hold(ext(app), lead_id, TOM) is None
    states = {key: (job["status"], job["last_error"]) for key, job in jobs(app, lead_id).items()}
    assert set(states.values()) == {("dropped", tray.HELD)}
    assert search.find(ext(app).engine, search.Filters()) == []
    assert [row["id"] for row in search.tray(ext(app).engine)] == [lead_id]
    with pytest.raises(stages.NoSuchLead):  # out of the pipeline
        stages.change_status(ext(app).engine, ext(app).sales, lead_id, Change("contacted"), TOM)
    Worker(ext(app)).run_once()
    assert smtp_sink.messages == []
    tray.release(ext(app), lead_id, MAYA)
    Worker(ext(app)).run_once()
    sent = sorted(job["kind"] for job in jobs(app, lead_id).values() if job["status"] == "sent")
    assert sent == ["confirm_visitor", "notify_sales", "notify_sales", "notify_sales"]
    assert len(smtp_sink.messages) == 4


def test_a_lead_marked_spam_after_its_mail_was_claimed_is_not_sent(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = post(app.test_client(), consultation)
    with ext(app).engine.begin() as conn:  # marked while the worker held the jobs (no longer pending)
        conn.execute(update(leads).where(leads.c.id == lead_id).values(spam=True))
    Worker(ext(app)).run_once()
    assert smtp_sink.messages == []
    due = [job for job in jobs(app, lead_id).values() if job["scheduled_for"] is None]
    assert due and {job["last_error"] for job in due} == {tray.HELD}


def test_held_leads_are_out_of_the_numbers_until_released(app, client, consultation):
    kept = post(client, consultation)
    held = post(client, consultation, email="x@spam.example", message=PITCH, time_on_form="800")
    rows = list(report.lead_rows(ext(app).engine))
    assert [r["id"] for r in rows] == [kept]
    tray.release(ext(app), held, MAYA)
    assert {r["id"] for r in report.lead_rows(ext(app).engine)} == {kept, held}


# --- the desk -----------------------------------------------------------------------

def test_the_tray_lists_held_leads_with_reasons_and_not_spam_releases(app, client, consultation):
    held = post(client, consultation, name="Spammy <b>Bob</b>", message=PITCH, time_on_form="700")
    sign_in(app, client, TOM)
    inbox_page = client.get("/desk/").get_data(as_text=True)
    assert "1 lead in the spam tray" in inbox_page
    page = client.get("/desk/spam").get_data(as_text=True)
    assert "Spammy &lt;b&gt;Bob&lt;/b&gt;" in page and "a shortened link (bit.ly)" in page
    assert "the form was filled in 0.7 seconds" in page
    response = client.post(f"/desk/leads/{held}/not-spam", data={"csrf_token": csrf(client, "/desk/spam")})
    assert response.status_code == 303
    assert get_lead(ext(app).engine, held)["spam"] is False
    assert "The spam tray is empty." in client.get("/desk/spam").get_data(as_text=True)
    lead_page = client.get(f"/desk/leads/{held}").get_data(as_text=True)
    assert "Held in the spam tray until" in lead_page and "Not spam" in lead_page


def test_spam_from_the_lead_page_and_roles(app, client, consultation):
    lead_id = post(client, consultation)
    sign_in(app, client, PRIYA)  # marketing looks, never decides
    assert client.get("/desk/spam").status_code == 403
    token = csrf(client, "/desk/")
    assert client.post(f"/desk/leads/{lead_id}/spam", data={"csrf_token": token}).status_code == 403
    assert get_lead(ext(app).engine, lead_id)["spam"] is False
    other = app.test_client()
    sign_in(app, other, TOM)
    response = other.post(f"/desk/leads/{lead_id}/spam", data={"csrf_token": csrf(other, f"/desk/leads/{lead_id}")})
    assert response.status_code == 303
    assert get_lead(ext(app).engine, lead_id)["spam"] is True
    assert other.post("/desk/leads/nope/spam", data={"csrf_token": csrf(other, "/desk/")}).status_code == 404


# --- the CLI ------------------------------------------------------------------------

def test_the_cli_marks_and_releases(app, client, consultation):
    lead_id = post(client, consultation)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["leads", "spam", lead_id, "--by", TOM])
    assert result.exit_code == 0 and "is in the spam tray" in result.output
    listed = runner.invoke(args=["leads", "list", "--include-spam"]).output
    assert "[spam]" in listed
    result = runner.invoke(args=["leads", "not-spam", lead_id, "--by", MAYA])
    assert result.exit_code == 0 and "released" in result.output
    again = runner.invoke(args=["leads", "not-spam", lead_id])
    assert "was not in the spam tray" in again.output
    missing = runner.invoke(args=["leads", "spam", "nope"])
    assert missing.exit_code == 1 and "There is no lead nope." in missing.output
    stranger = runner.invoke(args=["leads", "spam", lead_id, "--by", "eve@example.com"])
    assert stranger.exit_code == 1 and "not on the team" in stranger.output
