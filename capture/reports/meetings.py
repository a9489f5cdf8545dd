"""Meetings in the report: how many were booked, held and missed, per key of the leads they are for.

A lead's `consultations` count says it got that far; its meetings say how they went. Counted
per meeting, not per lead: a lead who missed one meeting and came to the next is one no-show
and one held. `meetings` are those not cancelled (past or still to come); `held` and `no_shows`
are what the hosts recorded (booking/aftercare.py), so a meeting without an answer yet is in
`meetings` only. Like the rest of the report, they count with the period their lead arrived in.
"""
from __future__ import annotations

from collections import Counter

from sqlalchemy import case, func, select

from capture.booking.lookup import BOOKED
from capture.db.models import bookings, leads
from capture.pipeline.consultations import HELD, NO_SHOW

COLUMNS = ("meetings", "held", "no_shows")


def by_key(conn, key, arrived) -> dict:
    """{key: Counter of COLUMNS} for the meetings of the leads `arrived` finds, grouped by `key`."""
    def count(condition):
        return func.sum(case((condition, 1), else_=0))
    query = (select(key, count(bookings.c.status == BOOKED).label("meetings"),
                    count((bookings.c.status == BOOKED) & (bookings.c.outcome == HELD)).label("held"),
                    count((bookings.c.status == BOOKED) & (bookings.c.outcome == NO_SHOW)).label("no_shows"))
             .select_from(leads.join(bookings, bookings.c.lead_id == leads.c.id))
             .where(arrived).group_by(key))
    return {row[0]: Counter({name: int(row._mapping[name] or 0) for name in COLUMNS})
            for row in conn.execute(query)}
