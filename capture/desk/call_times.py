"""What the lead page's move form offers for a booked call: the free times by day, who is free
at each, and the hosts. Pure reading (booking/lookup through appointments); calls.py acts.
"""
from __future__ import annotations

from capture.booking import appointments, manage_view
from capture.context import current
from capture.core.clock import utcnow
from capture.desk.views import name_of


def choices() -> dict:
    """What the lead page's move form offers: the free times by day (with who is free), the hosts."""
    ext = current()
    if ext.sales.consultation is None:
        return {"days": [], "hosts": []}
    now = utcnow()
    free = appointments.free(ext.engine, ext.sales, ext.sales.calendar.local_date(now),
                             ext.sales.consultation.horizon_days, now)
    days = manage_view.days(free, ext.settings.timezone)
    hosts_at = {manage_view.slot_value(s.start): s.hosts for s in free}
    for day in days:
        for slot in day["slots"]:
            slot["hosts"] = ", ".join(name_of(h) for h in hosts_at[slot["value"]])
    hosts = [{"email": h, "name": name_of(h)} for h in ext.sales.consultation.hosts]
    return {"days": days, "hosts": hosts}
