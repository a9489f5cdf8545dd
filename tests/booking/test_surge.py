"""Bookings at an unusual rate (capture/booking/surge.py): one alert an hour to the managers, on both databases.

The clock is injected: the API, the outbox and the worker read the test's `now`.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from capture.delivery import worker
from capture.core.formatting import local_time
from capture.db.models import outbox as outbox_table
from tests.conftest import ROOT
from tests.booking.test_appointments import MAYA, ext, sent_mail, visitor

ALERT = "booking_surge"


@pytest.fixture
def clock(clock):
    """The shared clock (tests/conftest.py) at five past an hour of its working Wednesday, so a burst
    of minutes stays in one clock hour; the API, the outbox and the worker all read it."""
    clock.set(clock.moment.replace(minute=5, second=0, microsecond=0))
    return clock


def slots(client, clock) -> list[str]:
    # From the next day: however far a test moves the clock within today, these stay bookable.
    response = client.get(f"/api/slots?form=consultation&from={(clock.moment + timedelta(days=1)).date()}&days=14")
    return [s["start"] for s in response.json["slots"]]


def alerts(app) -> list[dict]:
    with ext(app).engine.connect() as conn:
        return [dict(row) for row in conn.execute(
            select(outbox_table).where(outbox_table.c.kind == ALERT).order_by(outbox_table.c.id)).mappings()]


def burst(app, clock, numbers, times: list[str]) -> None:
    client = app.test_client()
    for n in numbers:
        clock.moment += timedelta(minutes=1)
        assert client.post("/api/forms/consultation", json=visitor(n, times[n])).status_code == 201


def test_a_burst_alerts_the_managers_once_an_hour_and_the_worker_renders_it(make_app, clock, tmp_path):
    app = make_app(booking_alert="5")
    times = slots(app.test_client(), clock)
    first_made = clock.moment + timedelta(minutes=1)
    burst(app, clock, range(5), times)
    assert alerts(app) == []  # five in an hour is not unusual
    burst(app, clock, range(5, 9), times)  # the sixth raises it; the next three do not again
    [alert] = alerts(app)
    assert (alert["recipient"], alert["lead_id"], alert["status"]) == (MAYA, None, "pending")
    assert alert["message_id"] == f"<surge.{clock.moment:%Y-%m-%dT%H}.maya.at.fernleaf.example@fernleaf.example>"

    worker.Worker(ext(app)).run_once()
    [message] = [m for m in sent_mail(tmp_path) if str(m["Subject"]).startswith("Unusual booking rate")]
    assert message["To"] == MAYA and message["Auto-Submitted"] == "auto-generated"
    tz = ext(app).settings.timezone
    assert str(message["Subject"]) == f"Unusual booking rate: 9 consultations booked since {local_time(first_made, tz)}"
    text = message.get_body(("plain",)).get_content()
    assert "more than the 5 an hour" in " ".join(text.split()) and "Still booked: 9 of 9" in text
    first = datetime.fromisoformat(times[0]).astimezone(tz)
    assert f"{first.day} {first:%b %Y, %H:%M}" in text  # the meetings' times, as the desk shows them
    html = message.get_body(("html",)).get_content()
    assert "http://127.0.0.1:8000/desk/" in html
    for n in range(9):  # nothing about the visitors
        assert f"v{n}@example.com" not in text + html and f"Visitor {n}" not in text + html

    # Still unusual in the next clock hour: one more alert, for that hour.
    clock.moment = clock.moment.replace(minute=0) + timedelta(hours=1, minutes=2)
    burst(app, clock, [9], times)
    assert [a["message_id"].split(".")[1] for a in alerts(app)] == [
        f"{clock.moment - timedelta(hours=1):%Y-%m-%dT%H}", f"{clock.moment:%Y-%m-%dT%H}"]


def test_bookings_spread_over_hours_raise_no_alert_and_zero_turns_it_off(make_app, clock):
    spread, off = make_app(booking_alert="2"), make_app(booking_alert="0")
    times = slots(spread.test_client(), clock)
    for n in range(6):
        clock.moment += timedelta(minutes=31)  # one every 32 minutes: never more than two in an hour
        burst(spread, clock, [n], times)
    assert alerts(spread) == []
    burst(off, clock, range(6, 12), times)
    assert alerts(off) == []


def test_an_address_no_longer_a_manager_when_it_is_sent_gets_none(make_app, clock, tmp_path):
    app = make_app(booking_alert="1")
    times = slots(app.test_client(), clock)
    burst(app, clock, range(2), times)
    assert len(alerts(app)) == 1
    text = (ROOT / "sales.yml").read_text()
    assert "roles: [sales, manager, host]" in text
    demoted = tmp_path / "sales.yml"
    demoted.write_text(text.replace("roles: [sales, manager, host]", "roles: [sales, host]"))
    worker.Worker(ext(make_app(sales=str(demoted)))).run_once()
    [alert] = alerts(app)
    assert alert["status"] == "dropped" and "no longer a manager" in alert["last_error"]
