"""The privacy policy, kept: erasure, a copy on request, and retention (with an injected clock)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from sqlalchemy import select, update

from capture.pipeline import stages
from capture.privacy import erasure
from capture.core.clock import utcnow
from capture.core.settings import load_settings
from capture.db.models import leads, outbox, privacy_log
from capture.delivery.outbox import list_jobs
from capture.pipeline.stages import Change
from capture.db.store import get_lead
from capture.delivery.worker import Worker
from tests.conftest import ROOT, TEST_SECRET

ADA = "ada@analytical.example.com"


def post(client, consultation, **changes) -> str:
    response = client.post("/api/forms/consultation", json={**consultation, **changes})
    assert response.status_code == 201
    return response.json["id"]


def ext(app):
    return app.extensions["capture"]


def table(app, which, *where) -> list[dict]:
    with ext(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(which).where(*where)).mappings()]


# --- erasure ---------------------------------------------------------------------

def test_erasure_removes_the_person_and_keeps_the_numbers(app, client, consultation):
    engine = ext(app).engine
    first = post(client, consultation)
    second = post(client, consultation, email="ADA@analytical.example.com", message="Call me on 0117 496 0000")
    other = post(client, consultation, name="Grace Hopper", email="grace@navy.example.com")
    stages.change_status(engine, ext(app).sales, first, Change("won", value=850000), "maya@fernleaf.example")
    stages.add_note(engine, second, "Ada Lovelace prefers mornings", "tom@fernleaf.example")

    preview = erasure.erase(engine, ext(app).schema, ADA, "maya@fernleaf.example", utcnow(), dry_run=True, sales=ext(app).sales, domain=ext(app).mail_domain)
    assert preview["leads"] == 2 and preview["messages"] > 0 and len(preview["notes_naming"]) == 1
    assert get_lead(engine, first)["name"] == "Ada Lovelace"  # a dry run changes nothing

    done = erasure.erase(engine, ext(app).schema, ADA, "maya@fernleaf.example", utcnow(), sales=ext(app).sales, domain=ext(app).mail_domain)
    assert done["leads"] == 2
    for lead_id in (first, second):
        lead = get_lead(engine, lead_id)
        assert all(lead[k] is None for k in ("name", "email", "phone", "company"))
        assert set(lead["data"]) <= {"service", "budget", "meeting_kind", "preferred_date", "preferred_time", "consent"}
        assert "message" not in lead["data"] and "website" not in lead["data"]
        assert lead["anonymised_at"] is not None and lead["form_id"] == "consultation"
        assert ADA not in json.dumps(lead, default=str).lower()
    won = get_lead(engine, first)
    assert (won["status"], won["deal_value"]) == ("won", 850000)  # the numbers stay
    for job in table(app, outbox, outbox.c.lead_id.in_([first, second])):
        assert job["recipient"].lower() != ADA
        assert job["status"] not in ("pending", "sending")  # nothing more is sent about them
    assert get_lead(engine, other)["name"] == "Grace Hopper"  # nobody else is touched
    [log] = table(app, privacy_log)
    assert (log["action"], log["leads"], log["actor"]) == ("erase", 2, "maya@fernleaf.example")
    assert erasure.access(engine, ADA)["leads"] == []


def test_the_cli_erases_and_exports_one_person(app, client, consultation):
    lead_id = post(client, consultation)
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["leads", "export", "--email", ADA, "--format", "json"])
    found = json.loads(exported.stdout)
    assert [lead["id"] for lead in found["leads"]] == [lead_id]
    assert found["leads"][0]["name"] == "Ada Lovelace" and found["leads"][0]["messages"]
    dry = runner.invoke(args=["leads", "erase", "--email", ADA, "--dry-run"])
    assert dry.exit_code == 0 and "Would erase 1 lead(s)" in dry.output
    assert get_lead(ext(app).engine, lead_id)["email"] == ADA
    assert "Erased 1 lead(s)" in runner.invoke(args=["leads", "erase", "--email", ADA]).output
    assert get_lead(ext(app).engine, lead_id)["email"] is None
    assert runner.invoke(args=["leads", "export", "--format", "json"]).exit_code == 1


# --- retention -----------------------------------------------------------------------

def age(app, lead_id: str, **ago) -> None:
    """Time passes for one lead: it arrived (and last changed) `ago` before now."""
    when = utcnow() - timedelta(**ago)
    with ext(app).engine.begin() as conn:
        conn.execute(update(leads).where(leads.c.id == lead_id).values(received_at=when))
        conn.execute(update(leads).where(leads.c.id == lead_id, leads.c.status_changed_at.is_not(None))
                     .values(status_changed_at=when))


def test_retention_deletes_old_spam_and_anonymises_old_enquiries_and_clients(app, client, consultation):
    engine, sales = ext(app).engine, ext(app).sales
    old_spam, new_spam = post(client, consultation, fax="x"), post(client, consultation, fax="x")
    age(app, old_spam, days=31)
    age(app, new_spam, days=29)
    stale, fresh = post(client, consultation), post(client, consultation)
    stages.change_status(engine, sales, stale, Change("lost", reason="price"), "maya@fernleaf.example")
    age(app, stale, days=731)
    age(app, fresh, days=700)
    old_client, client_within = post(client, consultation), post(client, consultation)
    for lead_id, days in ((old_client, 2193), (client_within, 2000)):
        stages.change_status(engine, sales, lead_id, Change("won", value=100000), "maya@fernleaf.example")
        age(app, lead_id, days=days)

    done = erasure.apply_retention(engine, ext(app).schema, ext(app).settings.retention, utcnow())

    assert done["spam_deleted"] == 1 and get_lead(engine, old_spam) is None
    assert get_lead(engine, new_spam) is not None
    assert table(app, outbox, outbox.c.lead_id == old_spam) == []
    assert get_lead(engine, stale)["name"] is None and get_lead(engine, fresh)["name"] == "Ada Lovelace"
    assert get_lead(engine, old_client)["email"] is None and get_lead(engine, client_within)["email"] == ADA
    assert get_lead(engine, old_client)["deal_value"] == 100000
    assert (done["enquiries_anonymised"], done["clients_anonymised"]) == (1, 1)
    again = erasure.apply_retention(engine, ext(app).schema, ext(app).settings.retention, utcnow())
    assert again == {"spam_deleted": 0, "enquiries_anonymised": 0, "clients_anonymised": 0,
                     "messages_cleared": 0, "visitor_salts_deleted": 0, "visitor_keys_deleted": 0,
                     "page_views_deleted": 0, "visits_deleted": 0}


def test_retention_clears_the_addresses_on_old_sent_messages(app, client, consultation):
    post(client, consultation)
    with ext(app).engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.kind == "confirm_visitor")
                     .values(status="sent", sent_at=utcnow() - timedelta(days=91)))
        conn.execute(update(outbox).where(outbox.c.kind == "notify_sales")
                     .values(status="sent", sent_at=utcnow() - timedelta(days=89)))
    done = erasure.apply_retention(ext(app).engine, ext(app).schema, ext(app).settings.retention, utcnow())
    assert done["messages_cleared"] == 1
    recipients = {j["kind"]: j["recipient"] for j in table(app, outbox, outbox.c.kind.in_(("confirm_visitor",)))}
    assert recipients == {"confirm_visitor": "erased"}


def test_the_daily_run_happens_once_whatever_the_number_of_workers(app, client, consultation):
    spam = post(client, consultation, fax="x")
    age(app, spam, days=40)
    for worker in (Worker(ext(app)), Worker(ext(app))):
        worker.run_once()
        worker.run_once()
    runs = table(app, outbox, outbox.c.kind == "retention")
    assert len(runs) == 1 and runs[0]["status"] == "sent"
    assert get_lead(ext(app).engine, spam) is None
    assert [r["action"] for r in table(app, privacy_log)] == ["retention"]
    # Health and `outbox list` are about messages: the (sent) chore counts in neither.
    assert client.get("/api/health").json["outbox"]["sent"] == 0
    assert list_jobs(ext(app).engine) == []


# --- the policy says what the code does ------------------------------------------------------

def test_the_privacy_page_states_the_periods_the_code_applies():
    keep = load_settings({"secret_key": TEST_SECRET}, environ={}).retention
    page = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", page, re.M))
    assert rows["An enquiry our filters mark as spam"] == f"{keep.spam.days} days"
    assert rows["An enquiry that does not lead to work together"].startswith(
        f"{round(keep.enquiries.days / 30.44)} months after our last contact")
    assert f"{round(keep.clients.days / 365.25)} years afterwards" in rows["An enquiry that becomes a project"]
    assert rows["The address on each email we sent about your enquiry"].startswith(f"{keep.messages.days} days")


# --- logs ---------------------------------------------------------------------------------

def test_no_personal_data_in_any_log_line_of_a_whole_journey(make_app, consultation, caplog):
    """Submit, mail, remind, sign in, act from the email and the desk, erase, retain: scan every log line."""
    from tests.desk.test_desk import csrf, sign_in
    from capture.core import tokens
    caplog.set_level("DEBUG")
    app = make_app()
    client = app.test_client()
    secrets = {"name": "Zebedee Quixote", "email": "zq.private@unique.example", "phone": "+44 7700 900123",
               "company": "Quixote Windmills", "message": "Our secret project codename Rocinante"}
    lead_id = post(client, consultation, **secrets)
    with ext(app).engine.begin() as conn:  # the follow-ups are due
        conn.execute(update(outbox).where(outbox.c.lead_id == lead_id, outbox.c.scheduled_for.is_not(None))
                     .values(available_at=utcnow(), scheduled_for=utcnow()))
    Worker(ext(app)).run_once()
    path = f"/actions/{tokens.action_token(app.config['SECRET_KEY'], lead_id, 'contacted', 'sales@fernleaf.example')}"
    client.post(path, data={"csrf_token": csrf(client, path)})
    sign_in(app, client, "maya@fernleaf.example")
    token = csrf(client, f"/desk/leads/{lead_id}")
    client.post(f"/desk/leads/{lead_id}/note", data={"note": "Rang Zebedee Quixote", "csrf_token": token})
    client.post(f"/desk/leads/{lead_id}/status", data={"status": "won", "value": "9,000", "csrf_token": token})
    client.get("/desk/?q=Quixote")
    app.test_cli_runner().invoke(args=["leads", "erase", "--email", secrets["email"]])
    erasure.apply_retention(ext(app).engine, ext(app).schema, ext(app).settings.retention, utcnow())
    text = caplog.text
    assert lead_id in text and "sent" in text  # the logs did record the journey
    for value in [*secrets.values(), "Zebedee", "Quixote", "zq.private", "Rocinante", "7700 900123"]:
        assert value not in text, value


# --- erasure reaches every column ---------------------------------------------------------

def every_text_value(engine) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text-like column of every table the models define.

    Read from the models, so a column added later is scanned too.
    """
    from sqlalchemy import JSON, String, Text
    from capture.db.models import metadata
    found = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            for row in conn.execute(select(*columns)).all():
                found += [(table.name, c.name, json.dumps(v, default=str) if not isinstance(v, str) else v)
                          for c, v in zip(columns, row) if v is not None]
    return found


def test_erasure_leaves_the_address_nowhere(make_app, consultation, tmp_path):
    """Every table and column, after a life with a booking, a move, reminders and mail sent."""
    from tests.booking.test_appointments import first_slots
    from capture.booking import appointments
    app = make_app()
    client = app.test_client()
    slots = first_slots(client, days=14)
    page = f"https://www.fernleaf.example/consultation/?email={ADA}&ref=x#top"
    lead_id = post(client, consultation, slot=slots[-1]["start"], page_url=page,
                   referrer=f"https://mail.example/?to={ADA}", landing_page=page,
                   first_referrer=f"https://search.example/?q={ADA}")
    request = post(client, consultation)  # a second lead, without a booking
    made = appointments.current(ext(app).engine, lead_id)
    appointments.move(ext(app).engine, ext(app).sales, made["id"],
                      datetime.fromisoformat(slots[-2]["start"]), "visitor", ext(app).mail_domain, utcnow())
    stages.add_note(ext(app).engine, request, "Rang back, all good", "maya@fernleaf.example")
    Worker(ext(app)).run_once()  # confirmations, notifications, updates: sent to the address
    assert any(ADA in value.lower() for _t, _c, value in every_text_value(ext(app).engine))

    runner = app.test_cli_runner()
    assert runner.invoke(args=["leads", "erase", "--email", ADA]).exit_code == 0
    left = [(t, c) for t, c, value in every_text_value(ext(app).engine)
            if ADA in value.lower() or "lovelace" in value.lower() or "analytical engines" in value.lower()]
    assert left == []
    lead = get_lead(ext(app).engine, lead_id)
    assert lead["page_url"] == "https://www.fernleaf.example/consultation/"  # the page stays, its query goes
    assert lead["first_referrer"] == "https://search.example/"
    exported = json.loads(runner.invoke(args=["leads", "export", "--email", ADA, "--format", "json"]).stdout)
    assert exported["leads"] == []
    # The host's calendar loses the meeting; the erased person is not written to again.
    host_cancel = table(app, outbox, outbox.c.lead_id == lead_id, outbox.c.kind == "booking_update",
                        outbox.c.status == "pending")
    assert [r["recipient"] for r in host_cancel] == [appointments.get(ext(app).engine, made["id"])["host"]]


def test_staff_notes_that_name_the_person_go_with_the_erasure(app, client, consultation):
    engine = ext(app).engine
    lead_id = post(client, consultation)
    maya = "maya@fernleaf.example"
    named = [stages.add_note(engine, lead_id, text, maya) for text in (
        "Rang 020 7946 0018 twice, no answer",  # the phone as typed on the form: +44 20 7946 0018
        "Ada Lovelace wants a shop by March", f"Wrote to {ADA.upper()}")]
    stages.add_note(engine, lead_id, "Budget approved, wants a call next week", maya)
    preview = erasure.erase(engine, ext(app).schema, ADA, maya, utcnow(), dry_run=True,
                            sales=ext(app).sales, domain=ext(app).mail_domain)
    assert len(preview["notes_naming"]) == 3 and len(named) == 3
    erasure.erase(engine, ext(app).schema, ADA, maya, utcnow(), sales=ext(app).sales, domain=ext(app).mail_domain)
    notes = [e["note"] for e in stages.timeline(engine, lead_id) if e["kind"] == "note"]
    assert notes == [erasure.NOTE_REMOVED] * 3 + ["Budget approved, wants a call next week"]
