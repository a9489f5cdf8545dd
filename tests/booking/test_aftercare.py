"""After a meeting (capture/booking/aftercare.py, outcome_pages.py, outcomes.record_outcome):
the host's question, its one-click pages and what held or no-show does to the lead.

Real SQLite and PostgreSQL; the clock is injected (the API, the outbox, the worker and the
token signer all read it), so "after the meeting" is the test moving the clock, never a sleep.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from capture.booking import aftercare, appointments, outcomes
from capture.core import link_forms
from capture.db.models import bookings, outbox
from capture.db.store import get_lead
from capture.delivery import webhooks
from capture.delivery.worker import Worker
from capture.pipeline import stages, tray
from tests.booking.test_appointments import MAYA, ext, first_slots, one_host, sent_mail, visitor  # noqa: F401
from tests.delivery.test_webhooks import keys, receiver, sales_file  # noqa: F401  (fixtures)
from tests.desk.test_desk import sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
KIND = "after_meeting"


def book(client, n: int, slot: str) -> str:
    response = client.post("/api/forms/consultation", json=visitor(n, slot))
    assert response.status_code == 201, response.json
    return response.json["id"]


def questions(app) -> list[dict]:
    with ext(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.kind == KIND)
                                              .order_by(outbox.c.id)).mappings()]


def queue(app, now) -> int:
    return aftercare.queue(ext(app).engine, ext(app).mail_domain, now)


def booking_of(app, lead_id: str) -> dict:
    return appointments.latest(ext(app).engine, lead_id)


def link(app, lead_id: str, outcome: str, recipient: str = MAYA) -> str:
    made = booking_of(app, lead_id)
    return f"/actions/outcome/{aftercare.outcome_token(app.config['SECRET_KEY'], made['id'], outcome, recipient)}"


def token_on(page) -> str:
    return CSRF.search(page.get_data(as_text=True)).group(1)


def timeline(app, lead_id: str) -> list[tuple]:
    return [(e["kind"], e["from_status"], e["to_status"], e["actor"])
            for e in stages.timeline(ext(app).engine, lead_id)]


@pytest.fixture
def met(make_app, one_host, clock):  # noqa: F811
    """An app (Maya the only host), a lead booked at the first free time and one at a later day's,
    and the clock just after the first meeting ended."""
    app = make_app(sales=str(one_host))
    client = app.test_client()
    slots = first_slots(client, days=14)
    first, later = slots[0]["start"], slots[-1]["start"]
    done, coming = book(client, 1, first), book(client, 2, later)
    clock.set(booking_of(app, done)["ends_at"] + timedelta(minutes=1))
    return app, client, done, coming


# --- the question is queued once per meeting ended --------------------------------------

@pytest.mark.parametrize("after", [timedelta(0), timedelta(minutes=1), timedelta(hours=5, minutes=17),
                                   timedelta(days=2, hours=14), timedelta(days=4, hours=23, minutes=59),
                                   timedelta(days=6, hours=9)])
def test_one_question_per_ended_meeting_none_for_cancelled_or_future_ones_at_any_hour(
        make_app, one_host, clock, after):  # noqa: F811
    app = make_app(sales=str(one_host))
    client = app.test_client()
    future = book(client, 3, first_slots(client, days=14)[-1]["start"])
    held = book(client, 1, first_slots(client)[0]["start"])
    cancelled = book(client, 2, first_slots(client)[0]["start"])
    cap = ext(app)
    appointments.cancel(cap.engine, cap.sales, booking_of(app, cancelled)["id"], MAYA, cap.mail_domain,
                        clock.moment)
    assert queue(app, booking_of(app, held)["ends_at"] - timedelta(seconds=1)) == 0  # not over yet
    now = clock.set(max(booking_of(app, held)["ends_at"], booking_of(app, cancelled)["ends_at"]) + after)
    assert now < booking_of(app, future)["starts_at"]
    assert queue(app, now) == 1
    for later in (now, now + timedelta(minutes=5), now + timedelta(days=1)):  # every worker, every period
        assert queue(app, later) == 0
    [question] = questions(app)
    made = booking_of(app, held)
    assert (question["lead_id"], question["recipient"], question["ref"]) == (held, MAYA, made["id"])
    assert question["message_id"] == f"<booking.{made['id']}.after@fernleaf.example>"


def test_no_question_for_a_lead_in_the_spam_tray_until_released_nor_after_a_week(met, clock):
    app, client, done, coming = met
    cap = ext(app)
    tray.hold(cap, done, MAYA)
    assert queue(app, clock.moment) == 0
    tray.release(cap, done, MAYA)
    assert queue(app, clock.moment) == 1
    late = clock.set(booking_of(app, coming)["ends_at"] + aftercare.CATCH_UP + timedelta(seconds=1))
    assert queue(app, late) == 0  # the later meeting ended more than a week ago: never asked about


def test_the_worker_asks_through_its_schedule_and_the_email_has_both_links(met, tmp_path):
    app, client, done, coming = met
    Worker(ext(app)).run_once()
    Worker(ext(app)).run_once()  # a second worker, the same period: nothing more
    [question] = questions(app)
    assert question["status"] == "sent" and question["lead_id"] == done
    [message] = [m for m in sent_mail(tmp_path) if str(m["Subject"]).startswith("How did")]
    assert str(message["Subject"]) == "How did your call with Visitor 1 go?" and message["To"] == MAYA
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    made = booking_of(app, done)
    for outcome, label in aftercare.LABELS.items():
        found = re.search(rf"^{label}: http://127\.0\.0\.1:8000/actions/outcome/(\S+?)\r?$", text, re.M)
        assert found, label
        assert f'/actions/outcome/{found[1]}"' in html and f">{label}</a>" in html
        assert aftercare.read_outcome(app.config["SECRET_KEY"], found[1]) == aftercare.OutcomeLink(
            made["id"], outcome, MAYA)
    assert "London time" in text  # the host reads the studio's zone


@pytest.mark.parametrize("change", ["cancel", "record"])
def test_a_question_queued_is_dropped_when_nobody_needs_to_answer(met, change):
    app, client, done, coming = met
    cap = ext(app)
    made = booking_of(app, done)
    assert queue(app, made["ends_at"]) == 1
    if change == "cancel":
        appointments.cancel(cap.engine, cap.sales, made["id"], MAYA, cap.mail_domain, made["ends_at"])
    else:
        outcomes.record_outcome(cap.engine, cap.sales, made["id"], "held", MAYA, made["ends_at"])
    Worker(cap).run_once()
    [question] = questions(app)
    assert question["status"] == "dropped"


# --- the pages from the email --------------------------------------------------------------

def test_opening_the_links_changes_nothing_and_a_post_needs_the_page_token(met):
    app, client, done, coming = met
    for outcome in aftercare.LABELS:
        path = link(app, done, outcome)
        assert client.head(path).status_code == 200
        page = client.get(path)
        assert page.status_code == 200 and f"{aftercare.LABELS[outcome]}?" in page.get_data(as_text=True)
        assert client.post(path).status_code == 400  # no form token
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
    assert get_lead(ext(app).engine, done)["status"] == "consultation"
    assert booking_of(app, done)["outcome"] is None
    assert [kind for kind, *_ in timeline(app, done)] == ["status"]  # only the booking itself


def test_the_form_token_of_another_bookings_page_is_refused(met, clock):
    app, client, done, coming = met
    clock.set(booking_of(app, coming)["ends_at"] + timedelta(minutes=1))
    other_token = token_on(client.get(link(app, coming, "no_show")))
    response = client.post(link(app, done, "no_show"), data={"csrf_token": other_token})
    assert response.status_code == 400 and booking_of(app, done)["outcome"] is None
    tampered = link(app, done, "no_show")[:-3] + "abc"
    assert client.get(tampered).status_code == 404


def test_a_no_show_sends_the_lead_back_to_contacted_and_held_after_all_brings_it_back(met, clock):
    app, client, done, coming = met
    path = link(app, done, "no_show")
    recorded = client.post(path, data={"csrf_token": token_on(client.get(path))})
    body = recorded.get_data(as_text=True)
    assert recorded.status_code == 200 and "Recorded" in body and "was a no-show" in body
    lead = get_lead(ext(app).engine, done)
    assert lead["status"] == "contacted" and lead["owner"] == MAYA
    made = booking_of(app, done)
    assert (made["outcome"], made["outcome_by"], made["outcome_at"]) == ("no_show", MAYA, clock.moment)
    again = client.post(path, data={"csrf_token": token_on(client.get(path))})
    assert "Already recorded" in again.get_data(as_text=True)
    assert timeline(app, done)[1:] == [("no_show", None, None, MAYA), ("status", "consultation", "contacted", MAYA)]

    clock.advance(minutes=10)  # the host clicked the wrong one: the last answer wins
    path = link(app, done, "held")
    assert client.post(path, data={"csrf_token": token_on(client.get(path))}).status_code == 200
    assert get_lead(ext(app).engine, done)["status"] == "consultation"
    assert booking_of(app, done)["outcome"] == "held"
    assert timeline(app, done)[1:] == [("no_show", None, None, MAYA), ("status", "consultation", "contacted", MAYA),
                                       ("held", None, None, MAYA), ("status", "contacted", "consultation", MAYA)]


def test_nothing_is_recorded_before_the_meeting_starts(met):
    app, client, done, coming = met
    path = link(app, coming, "no_show")
    page = client.get(path)
    assert page.status_code == 200 and "has not started yet" in page.get_data(as_text=True)
    assert "<form" not in page.get_data(as_text=True)
    with app.test_request_context():
        token = link_forms.form_token(path.rsplit("/", 1)[1])
    refused = client.post(path, data={"csrf_token": token})
    assert refused.status_code == 409 and "has not started yet" in refused.get_data(as_text=True)
    assert booking_of(app, coming)["outcome"] is None
    assert get_lead(ext(app).engine, coming)["status"] == "consultation"


def test_a_no_show_with_another_meeting_booked_keeps_the_lead_at_consultation(met, clock):
    app, client, done, coming = met
    cap = ext(app)
    made = booking_of(app, done)
    with cap.engine.begin() as conn:  # a second meeting for the same lead (as sales would book it)
        conn.execute(bookings.insert(), {**made, "id": "second-meeting", "sequence": 1, "outcome": None,
                                         "starts_at": made["starts_at"] + timedelta(days=3),
                                         "ends_at": made["ends_at"] + timedelta(days=3)})
    outcomes.record_outcome(cap.engine, cap.sales, made["id"], "no_show", MAYA, clock.moment)
    assert get_lead(cap.engine, done)["status"] == "consultation"
    assert [kind for kind, *_ in timeline(app, done)] == ["status", "no_show"]


def test_a_link_sent_to_someone_no_longer_selling_is_refused(met):
    app, client, done, coming = met
    response = client.get(link(app, done, "held", recipient="someone@elsewhere.example"))
    assert response.status_code == 403


# --- the desk --------------------------------------------------------------------------------

def test_the_desk_records_a_no_show_for_a_past_meeting_only(met):
    app, client, done, coming = met
    sign_in(app, client, MAYA)
    page = client.get(f"/desk/leads/{done}").get_data(as_text=True)
    assert "How did the consultation go?" in page and '<button type="submit">It was held</button>' in page
    assert '<button type="submit" class="secondary">They did not show</button>' in page
    assert "How did the consultation go?" not in client.get(f"/desk/leads/{coming}").get_data(as_text=True)
    made, token = booking_of(app, done), token_on(client.get(f"/desk/leads/{done}"))
    response = client.post(f"/desk/leads/{done}/outcome",
                           data={"csrf_token": token, "booking": made["id"], "outcome": "no_show"})
    assert response.status_code == 303
    page = client.get(f"/desk/leads/{done}").get_data(as_text=True)
    assert "Recorded as <strong>a no-show</strong> by Maya" in page and "No-show" in page
    assert get_lead(ext(app).engine, done)["status"] == "contacted"

    future = booking_of(app, coming)
    early = client.post(f"/desk/leads/{coming}/outcome",
                        data={"csrf_token": token, "booking": future["id"], "outcome": "no_show"})
    assert early.status_code == 409 and "has not started yet" in early.get_data(as_text=True)
    mixed = client.post(f"/desk/leads/{coming}/outcome",
                        data={"csrf_token": token, "booking": made["id"], "outcome": "held"})
    assert mixed.status_code == 404  # another lead's meeting
    for impossible in ("a\x00b", "x" * 200, ""):  # never reaches the database as a booking id
        assert client.post(f"/desk/leads/{done}/outcome", data={"csrf_token": token, "booking": impossible,
                                                                "outcome": "held"}).status_code == 404
    bad = client.post(f"/desk/leads/{done}/outcome", data={"csrf_token": token, "booking": made["id"],
                                                           "outcome": "maybe"})
    assert bad.status_code == 422 and booking_of(app, done)["outcome"] == "no_show"
    assert client.post(f"/desk/leads/{done}/outcome",
                       data={"booking": made["id"], "outcome": "held"}).status_code == 400  # no CSRF token


def test_record_outcome_is_refused_for_a_cancelled_meeting(met, clock):
    app, client, done, coming = met
    cap = ext(app)
    made = booking_of(app, coming)
    appointments.cancel(cap.engine, cap.sales, made["id"], MAYA, cap.mail_domain, clock.moment)
    with pytest.raises(outcomes.NotYet, match="cancelled"):
        outcomes.record_outcome(cap.engine, cap.sales, made["id"], "held", MAYA,
                                    made["ends_at"] + timedelta(hours=1))


# --- the webhook ---------------------------------------------------------------------------

def test_each_no_show_recorded_is_a_booking_no_show_webhook(make_app, receiver, keys, tmp_path, clock):
    path = sales_file(tmp_path, [{"name": "crm", "url": receiver.url("crm"),
                                  "events": ["booking.no_show", "lead.status_changed"]}])
    app = make_app(sales=str(path), webhook_secret_crm=keys["crm"])
    client = app.test_client()
    lead_id = book(client, 1, first_slots(client)[0]["start"])
    made, cap = booking_of(app, lead_id), ext(app)
    first = clock.set(made["ends_at"] + timedelta(minutes=1))
    for outcome in ("no_show", "held", "no_show"):  # a changed mind, twice
        outcomes.record_outcome(cap.engine, cap.sales, made["id"], outcome, MAYA, clock.advance(minutes=1))
    with time_machine.travel(clock.moment, tick=False):  # a receiver whose clock agrees with ours
        Worker(cap).run_once()
    receiver.assert_once()
    found = receiver.events()
    assert [kind for kind, _ in found] == ["lead.status_changed", "booking.no_show", "lead.status_changed",
                                           "lead.status_changed", "booking.no_show"]
    no_shows = [data["booking"] for kind, data in found if kind == "booking.no_show"]
    assert all(b["id"] == made["id"] and b["outcome"] == "no_show" and b["recorded_by"] == MAYA for b in no_shows)
    stamps = [p["timestamp"] for _, _, p in receiver.accepted if p["type"] == "booking.no_show"]
    assert stamps == [webhooks.iso(first + timedelta(minutes=1)), webhooks.iso(first + timedelta(minutes=3))]
    assert [data["change"]["to"] for kind, data in found if kind == "lead.status_changed"] == \
        ["contacted", "consultation", "contacted"]
