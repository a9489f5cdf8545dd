"""A lead's next step in words (capture/pipeline/next_step.py): every state, at a known moment.

Pure: the lead and its consultation are dicts, the clock is a parameter. The moment is
Wednesday 9 December 2026, 10:00 in London (GMT), as the suite's clock starts.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from capture.pipeline.next_step import CALL, DONE, LATE, SOON, TODO, NextStep, next_step
from capture.schema.sales import load_sales
from tests.conftest import ROOT

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 9, 10, 0, tzinfo=timezone.utc)
MAYA, TOM = "maya@fernleaf.example", "tom@fernleaf.example"


@pytest.fixture(scope="module")
def sales():
    return load_sales(ROOT / "sales.yml", LONDON, ("consultation", "contact"))


def lead(status: str = "new", **more) -> dict:
    return {"status": status, "respond_by": None, "deal_value": None, "lost_reason": None, **more}


def call(starts: datetime, status: str = "booked", **more) -> dict:
    return {"status": status, "starts_at": starts, "ends_at": starts + timedelta(minutes=30), "host": MAYA,
            "meeting_kind": "phone", "outcome": None, **more}


TUESDAY_4PM = datetime(2026, 12, 15, 16, 0, tzinfo=timezone.utc)  # six days on
THURSDAY_2PM = datetime(2026, 12, 10, 14, 0, tzinfo=timezone.utc)
MONDAY_11AM = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)  # two days ago


@pytest.mark.parametrize("the_lead, the_call, expected", [
    # Waiting for the first reply: due today (its time alone), due another day, overdue.
    (lead(respond_by=NOW + timedelta(minutes=65)), None, NextStep("Reply due 11:05", SOON)),
    (lead(respond_by=datetime(2026, 12, 10, 9, 30, tzinfo=timezone.utc)), None, NextStep("Reply due Thu 09:30", SOON)),
    (lead(respond_by=NOW - timedelta(hours=2)), None, NextStep("Reply overdue: due 08:00", LATE)),
    (lead(respond_by=NOW + timedelta(hours=1), overdue=True), None, NextStep("Reply overdue: due 11:00", LATE)),
    # A booked call: when, how and with whom (a week or more away: the date too).
    (lead("consultation"), call(TUESDAY_4PM), NextStep("Call Tue 16:00 with Maya", CALL)),
    (lead("consultation"), call(THURSDAY_2PM, host=TOM, meeting_kind="video"),
     NextStep("Video call Thu 14:00 with Tom", CALL)),
    (lead("consultation"), call(TUESDAY_4PM + timedelta(days=1)), NextStep("Call Wed 16 Dec 16:00 with Maya", CALL)),
    # After its start: how did it go; held; a no-show.
    (lead("consultation"), call(MONDAY_11AM), NextStep("Say how the call Mon 11:00 went", SOON)),
    (lead("consultation"), call(MONDAY_11AM, outcome="held"), NextStep("Call held Mon 11:00: send a proposal", TODO)),
    (lead("proposal"), call(MONDAY_11AM, outcome="held"), NextStep("Call held Mon 11:00: chase the proposal", TODO)),
    (lead("contacted"), call(MONDAY_11AM, outcome="no_show"), NextStep("No-show Mon 11:00: follow up", LATE)),
    # Cancelled: by the visitor, by a teammate, by no one known.
    (lead("contacted"), call(TUESDAY_4PM, "cancelled", cancelled_by="visitor"),
     NextStep("Cancelled by the visitor", LATE)),
    (lead("contacted"), call(TUESDAY_4PM, "cancelled", cancelled_by=TOM), NextStep("Cancelled by Tom", TODO)),
    (lead("contacted"), call(TUESDAY_4PM, "cancelled"), NextStep("Call cancelled", TODO)),
    # A cancelled call or a no-show is old news once the lead has moved on, or is waiting for a reply again.
    (lead("proposal"), call(TUESDAY_4PM, "cancelled", cancelled_by="visitor"), NextStep("Chase the proposal", TODO)),
    (lead("proposal"), call(MONDAY_11AM, outcome="no_show"), NextStep("Chase the proposal", TODO)),
    (lead(respond_by=NOW - timedelta(hours=1)), call(TUESDAY_4PM, "cancelled", cancelled_by=MAYA),
     NextStep("Reply overdue: due 09:00", LATE)),
    # No call: each open status; the ends of the pipeline.
    (lead("contacted"), None, NextStep("Follow up", TODO)),
    (lead("consultation"), None, NextStep("Book the call", TODO)),
    (lead("proposal"), None, NextStep("Chase the proposal", TODO)),
    (lead("won", deal_value=620000), call(MONDAY_11AM, outcome="held"), NextStep("Won: £6,200", DONE)),
    (lead("won"), None, NextStep("Won", DONE)),
    (lead("lost", lost_reason="went_elsewhere"), None, NextStep("Lost: went elsewhere", DONE)),
])
def test_every_state_has_its_words(sales, the_lead, the_call, expected):
    assert next_step(the_lead, the_call, sales, LONDON, NOW) == expected


def test_times_are_the_business_zones_in_summer_too(sales):
    june = datetime(2026, 6, 10, 9, 0, tzinfo=timezone.utc)  # 10:00 in London (BST)
    booked = call(june + timedelta(days=1, hours=5))  # Thursday 15:00 BST
    assert next_step(lead("consultation"), booked, sales, LONDON, june).text == "Call Thu 15:00 with Maya"
    due = lead(respond_by=june + timedelta(minutes=30))
    assert next_step(due, None, sales, LONDON, june).text == "Reply due 10:30"
