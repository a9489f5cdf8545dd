"""The pipeline: status rules, events, owners, the response clock, reminders and escalations.

Time is injected: leads are given explicit received times, and "time passing"
for the worker is a due time moved into the past, never a sleep.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from capture.pipeline import search, stages
from capture.core import formatting
from capture.core.clock import utcnow
from capture.db.models import outbox
from capture.pipeline.stages import Change, PipelineError
from capture.db.store import get_lead
from capture.delivery.worker import Worker
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)

LONDON = ZoneInfo("Europe/London")
MAYA, TOM = "maya@fernleaf.example", "tom@fernleaf.example"
DOMAIN = "fernleaf.example"


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(timezone.utc)


def post(client, consultation, **changes) -> str:
    response = client.post("/api/forms/consultation", json={**consultation, **changes})
    assert response.status_code == 201, response.json
    return response.json["id"]


def jobs(app, lead_id: str) -> list[dict]:
    with app.extensions["capture"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.lead_id == lead_id)
                                              .order_by(outbox.c.id)).mappings()]


def ext(app):
    return app.extensions["capture"]


# --- status rules and events -----------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (Change("won"), "needs its deal value"),
    (Change("won", value=0), "needs its deal value"),
    (Change("lost"), "needs a reason"),
    (Change("lost", reason="bored"), "needs a reason"),
    (Change("lost", reason="other"), "say in a note why"),
    (Change("paused"), "not a status"),
    (Change("contacted", note="x" * 5001), "under 5000"),
])
def test_a_change_missing_what_it_needs_is_refused_and_records_nothing(app, client, consultation, change, message):
    lead_id = post(client, consultation)
    with pytest.raises(PipelineError, match=message):
        stages.change_status(ext(app).engine, ext(app).sales, lead_id, change, MAYA)
    assert stages.timeline(ext(app).engine, lead_id) == []
    assert get_lead(ext(app).engine, lead_id)["status"] == "new"


def test_a_lead_moves_through_the_pipeline_with_an_event_for_every_change(app, client, consultation):
    engine, sales = ext(app).engine, ext(app).sales
    lead_id = post(client, consultation)
    t0 = utcnow()
    steps = [Change("contacted"), Change("consultation", note="Call booked for Tuesday"),
             Change("proposal"), Change("won", value=stages.parse_money("£8,500"))]
    for i, change in enumerate(steps):
        assert stages.change_status(engine, sales, lead_id, change, TOM, now=t0 + timedelta(minutes=i))
    lead = get_lead(engine, lead_id)
    assert (lead["status"], lead["deal_value"], lead["lost_reason"]) == ("won", 850000, None)
    assert lead["first_contact_at"] == t0  # the first move out of new, kept
    history = stages.timeline(engine, lead_id)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in history] == [
        ("new", "contacted", TOM), ("contacted", "consultation", TOM),
        ("consultation", "proposal", TOM), ("proposal", "won", TOM)]
    assert history[1]["note"] == "Call booked for Tuesday" and history[3]["deal_value"] == 850000
    assert formatting.money(lead["deal_value"], sales.currency) == "£8,500"


def test_repeating_a_change_is_harmless(app, client, consultation):
    engine, sales = ext(app).engine, ext(app).sales
    lead_id = post(client, consultation)
    assert stages.change_status(engine, sales, lead_id, Change("contacted"), MAYA) is not None
    assert stages.change_status(engine, sales, lead_id, Change("contacted"), MAYA) is None
    assert len(stages.timeline(engine, lead_id)) == 1


def test_any_move_is_allowed_and_lost_keeps_its_reason(app, client, consultation):
    engine, sales = ext(app).engine, ext(app).sales
    lead_id = post(client, consultation)
    stages.change_status(engine, sales, lead_id, Change("won", value=100000), MAYA)
    stages.change_status(engine, sales, lead_id, Change("lost", reason="other", note="Went quiet"), MAYA)
    lead = get_lead(engine, lead_id)
    assert (lead["status"], lead["lost_reason"], lead["deal_value"]) == ("lost", "other", None)
    stages.change_status(engine, sales, lead_id, Change("won", value=200000), MAYA)
    stages.change_status(engine, sales, lead_id, Change("proposal"), MAYA)  # reopened: no win, no value
    assert get_lead(engine, lead_id)["deal_value"] is None
    stages.change_status(engine, sales, lead_id, Change("new"), MAYA)  # a mistake, undone
    assert get_lead(engine, lead_id)["first_contact_at"] is not None  # the clock stopped once


def test_notes_and_reassignment_are_events(app, client, consultation):
    engine, sales = ext(app).engine, ext(app).sales
    lead_id = post(client, consultation)
    stages.add_note(engine, lead_id, "  Prefers mornings  ", TOM)
    assert stages.assign(engine, sales, lead_id, "TOM@fernleaf.example", MAYA, DOMAIN)["owner"] == TOM
    assert stages.assign(engine, sales, lead_id, TOM, MAYA, DOMAIN) is None
    with pytest.raises(PipelineError, match="not a salesperson"):
        stages.assign(engine, sales, lead_id, "priya@fernleaf.example", MAYA, DOMAIN)  # marketing
    with pytest.raises(PipelineError, match="empty"):
        stages.add_note(engine, lead_id, "   ", TOM)
    kinds = [(e["kind"], e["note"], e["owner"]) for e in stages.timeline(engine, lead_id)]
    assert kinds == [("note", "Prefers mornings", None), ("assign", f"from {MAYA}", TOM)]
    assert get_lead(engine, lead_id)["owner"] == TOM


def test_an_unknown_or_spam_lead_cannot_be_changed(app, client, consultation):
    engine, sales = ext(app).engine, ext(app).sales
    with pytest.raises(stages.NoSuchLead):
        stages.change_status(engine, sales, "nope", Change("contacted"), MAYA)
    spam = post(client, consultation, fax="bot")
    with pytest.raises(stages.NoSuchLead):
        stages.add_note(engine, spam, "hi", MAYA)


@pytest.mark.parametrize("text, pence", [("8500", 850000), ("8,500.50", 850050), ("£ 12,000", 1200000),
                                         ("0.5", 50)])
def test_money_is_parsed_to_minor_units(text, pence):
    assert stages.parse_money(text) == pence


@pytest.mark.parametrize("text", ["", "lots", "8.555", "1,00", "-5", "€8,500", "$8500", "EUR 10", "9" * 30])
def test_money_that_is_no_amount_in_our_currency_is_refused(text):
    with pytest.raises(PipelineError):
        stages.parse_money(text, "GBP")


def test_a_note_with_control_characters_is_refused(app, client, consultation):
    lead_id = post(client, consultation)
    for bad in ("a\x00b", "bell\x07"):
        with pytest.raises(PipelineError, match="characters"):
            stages.add_note(ext(app).engine, lead_id, bad, MAYA)
    stages.add_note(ext(app).engine, lead_id, "two\nlines\tand a tab", MAYA)  # ordinary text is fine


def test_reassigning_sends_the_coming_reminder_to_the_new_owner(app, client, consultation):
    lead_id = post(client, consultation)  # Maya's
    stages.assign(ext(app).engine, ext(app).sales, lead_id, TOM, MAYA, DOMAIN)
    found = {j["kind"]: j["recipient"] for j in jobs(app, lead_id) if j["kind"] in ("remind_owner", "escalate")}
    assert found == {"remind_owner": TOM, "escalate": MAYA}


# --- owners ------------------------------------------------------------------------

def test_every_lead_gets_one_owner_round_robin_for_consultations(app, client, consultation):
    owners = [get_lead(ext(app).engine, post(client, consultation))["owner"] for _ in range(4)]
    assert owners == [MAYA, TOM, MAYA, TOM]


def test_a_contact_lead_goes_to_the_first_notified_team_member_else_the_fallback(app, client):
    response = client.post("/api/forms/contact", json={"name": "Grace", "email": "grace@navy.example.com",
                                                       "message": "Hello", "consent": True})
    # hello@ (the contact form's inbox) is not a person on the team: the first manager owns it.
    assert get_lead(ext(app).engine, response.json["id"])["owner"] == MAYA


def test_spam_has_no_owner_and_no_follow_ups(app, client, consultation):
    lead_id = post(client, consultation, fax="bot")
    assert get_lead(ext(app).engine, lead_id)["owner"] is None and jobs(app, lead_id) == []


# --- the response clock -------------------------------------------------------------

def test_a_friday_evening_lead_is_reminded_and_escalated_on_monday_morning(app):
    sales = ext(app).sales
    received = london(2026, 11, 13, 17, 20)  # Friday, 10 minutes before closing
    lead = {"id": "L1", "spam": False, "owner": TOM, "received_at": received, "form_id": "consultation"}
    found = {j["kind"]: j for j in stages.followups(sales, lead, "fernleaf.example", received)}
    assert found["remind_owner"]["available_at"] == london(2026, 11, 16, 9, 20)  # 30 working minutes
    assert found["escalate"]["available_at"] == london(2026, 11, 16, 9, 50)  # 60
    assert found["escalate"]["recipient"] == MAYA  # the manager
    assert found["remind_owner"]["scheduled_for"] == found["remind_owner"]["available_at"]
    assert stages.due_at(sales, received, "consultation") == london(2026, 11, 16, 9, 50)


def test_a_lead_on_a_bank_holiday_counts_from_the_next_working_morning(app):
    sales = ext(app).sales
    received = london(2026, 12, 25, 11, 0)  # Christmas Day; the 28th is the Boxing Day substitute
    assert stages.due_at(sales, received, "consultation") == london(2026, 12, 29, 10, 0)
    assert stages.due_at(sales, received, "contact") == london(2026, 12, 29, 17, 30)  # one working day


# --- each form's promise (sales.yml `response` per form) ------------------------------

SATURDAY_EVENING = datetime(2026, 12, 5, 19, 30, tzinfo=timezone.utc)  # the brief's CAPTURE_TEST_NOW
CONTACT = {"name": "Grace Hopper", "email": "grace@navy.example.com", "message": "Hello", "consent": True}


def test_each_form_keeps_its_own_promise_from_a_saturday_evening(app, client, consultation, clock):
    """Sent on a Saturday evening: the clock starts Monday 09:00, an hour for a consultation, a day for a message."""
    clock.set(SATURDAY_EVENING)
    asked = post(client, consultation)
    wrote = client.post("/api/forms/contact", json=CONTACT)
    assert wrote.status_code == 201, wrote.json
    wrote = wrote.json["id"]
    engine, sales = ext(app).engine, ext(app).sales
    assert get_lead(engine, asked)["respond_by"] == london(2026, 12, 7, 10, 0)
    assert get_lead(engine, wrote)["respond_by"] == london(2026, 12, 7, 17, 30)  # 8.5 working hours
    due = {lead_id: {j["kind"]: j["available_at"] for j in jobs(app, lead_id)
                     if j["kind"] in ("remind_owner", "escalate")} for lead_id in (asked, wrote)}
    assert due[asked] == {"remind_owner": london(2026, 12, 7, 9, 30), "escalate": london(2026, 12, 7, 10, 0)}
    assert due[wrote] == {"remind_owner": london(2026, 12, 7, 13, 0), "escalate": london(2026, 12, 7, 17, 30)}


@pytest.mark.parametrize("now, overdue", [
    (london(2026, 12, 7, 9, 59), set()),
    (london(2026, 12, 7, 10, 1), {"consultation"}),  # past the hour; the message has all day
    (london(2026, 12, 7, 17, 31), {"consultation", "contact"}),
])
def test_the_desk_flags_a_lead_overdue_by_its_forms_promise(app, client, consultation, clock, now, overdue):
    clock.set(SATURDAY_EVENING)
    ids = {post(client, consultation): "consultation", client.post("/api/forms/contact", json=CONTACT).json["id"]: "contact"}
    clock.set(now)
    listed = search.find(ext(app).engine, search.Filters(status="new"), now=now)
    assert {ids[row["id"]] for row in listed if row["overdue"]} == overdue
    assert {form for lead_id, form in ids.items()
            if stages.response_times(ext(app).sales, get_lead(ext(app).engine, lead_id), now=now)["overdue"]} == overdue


def test_a_reminder_names_the_promise_of_the_leads_form(app, client, clock):
    clock.set(SATURDAY_EVENING)
    lead = get_lead(ext(app).engine, client.post("/api/forms/contact", json=CONTACT).json["id"])
    said = stages.followup_context(ext(app).sales, lead, london(2026, 12, 7, 13, 0))
    assert (said["promise"], said["waited"], said["due"]) == (
        "one working day", "4 working hours", london(2026, 12, 7, 17, 30))


def test_response_times_in_wall_clock_and_working_time(app):
    sales = ext(app).sales
    lead = {"received_at": london(2026, 11, 13, 17, 20), "first_contact_at": london(2026, 11, 16, 9, 40)}
    times = stages.response_times(sales, lead)
    assert times["working_minutes"] == 50 and times["wall_minutes"] == 60 * 64 + 20
    assert not times["overdue"] and not times["waiting"]
    waiting = stages.response_times(sales, {"received_at": lead["received_at"], "first_contact_at": None},
                                      now=london(2026, 11, 16, 10, 0))
    assert waiting["waiting"] and waiting["overdue"] and waiting["working_minutes"] == 70


@pytest.mark.parametrize("minutes, text", [(1, "1 working minute"), (30, "30 working minutes"),
                                           (60, "1 working hour"), (135, "2 working hours 15 minutes")])
def test_working_spans_read_naturally(minutes, text):
    assert stages.working_span(timedelta(minutes=minutes)) == text


def make_due(app, lead_id: str, kind: str) -> None:
    """Time passes: the follow-up of this kind is due now."""
    past = utcnow() - timedelta(seconds=1)
    with ext(app).engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.lead_id == lead_id, outbox.c.kind == kind)
                     .values(available_at=past, scheduled_for=past))


def test_the_owner_is_reminded_once_and_the_managers_told_naming_the_owner(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = post(app.test_client(), consultation, name="Ada Lovelace")
    two = [Worker(ext(app)), Worker(ext(app))]
    for worker in two:
        worker.run_once()
    # Before anything is due the owner has had the notification, and nothing else.
    assert [str(m.message["Subject"]).split(":")[0] for m in smtp_sink.messages
            if m.recipients == [MAYA]] == ["Consultation requested"]
    make_due(app, lead_id, "remind_owner")
    make_due(app, lead_id, "escalate")
    for worker in two:
        worker.run_once()
    mine = [m for m in smtp_sink.messages if ".remind@" in m.message["Message-ID"]]
    told = [m for m in smtp_sink.messages if ".escalate-" in m.message["Message-ID"]]
    assert len(mine) == 1 and mine[0].recipients == [MAYA]
    assert str(mine[0].message["Subject"]).startswith("Fernleaf lead waiting ")
    assert "Ada Lovelace, E-commerce site" in str(mine[0].message["Subject"])
    text = mine[0].message.get_body(("plain",)).get_content()
    assert "Mark as contacted: http://127.0.0.1:8000/actions/" in text
    assert len(told) == 1 and "owner Maya Patel" in str(told[0].message["Subject"])
    assert {j["kind"]: j["status"] for j in jobs(app, lead_id)}["escalate"] == "sent"


def test_a_lead_contacted_before_its_reminder_is_due_gets_none(make_app, smtp_sink, consultation):
    app = make_app(mail_url=smtp_sink.url)
    lead_id = post(app.test_client(), consultation)
    stages.change_status(ext(app).engine, ext(app).sales, lead_id, Change("contacted"), MAYA)
    make_due(app, lead_id, "remind_owner")
    make_due(app, lead_id, "escalate")
    Worker(ext(app)).run_once()
    states = {j["kind"]: (j["status"], j["last_error"]) for j in jobs(app, lead_id)}
    assert states["remind_owner"][0] == states["escalate"][0] == "dropped"
    assert "contacted before this was due" in states["remind_owner"][1]
    assert not [m for m in smtp_sink.messages if ".remind@" in m.message["Message-ID"]]


def test_reminders_not_yet_due_are_scheduled_not_waiting(client, consultation):
    post(client, consultation)
    health = client.get("/api/health").json["outbox"]
    assert health["waiting"] == 4 and health["scheduled"] == 2 and health["attention"] is False
