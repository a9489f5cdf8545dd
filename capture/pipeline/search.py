"""Finding leads for people: the desk's inbox and `leads list`, with filters and search.

Overdue leads (still `new` past their first-contact deadline, `respond_by`)
come first, the one waiting longest at the top; then the rest, newest first. `calls` reads
each listed lead's latest consultation for its next step (next_step.py). Besides the inbox's
own filters, a report row's link narrows it to the row's leads: where they came from at the
first or last touch (ATTRIBUTION, NOT_SET for none recorded) and when they arrived
(desk/lead_links.py reads those from the link). Spam never shows here: it has its own tray
(`tray`), newest first, with the filter's reasons.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, desc, exists, func, or_, select
from sqlalchemy.engine import Engine

from capture.core.clock import utcnow
from capture.db.models import bookings, events, leads
from capture.pipeline.statuses import OPEN_STATUSES, STATUSES, LeadStatus

# A lead whose consultation was called off and not booked again: the inbox says so.
CALLED_OFF = and_(
    exists().where(bookings.c.lead_id == leads.c.id, bookings.c.status == "cancelled"),
    ~exists().where(bookings.c.lead_id == leads.c.id, bookings.c.status == "booked"))
LIST_COLUMNS = (leads.c.id, leads.c.received_at, leads.c.form_id, leads.c.name, leads.c.email,
                leads.c.company, leads.c.service, leads.c.status, leads.c.owner, leads.c.respond_by,
                leads.c.first_contact_at, leads.c.deal_value, leads.c.lost_reason, leads.c.status_changed_at, leads.c.first_utm_campaign, leads.c.spam,
                leads.c.verdict, CALLED_OFF.label("consultation_cancelled"))
SEARCH_MAX = 100
# Where a lead came from, as the report credits it (reports/report.py LEAD_KEYS): the report's
# rows link here with the same key, so the inbox lists exactly a row's leads.
TOUCHES = ("first", "last")
ATTRIBUTION = {  # filter: (first-touch column, last-touch column)
    "source": ("first_utm_source", "last_utm_source"), "medium": ("first_utm_medium", "last_utm_medium"),
    "campaign": ("first_utm_campaign", "last_utm_campaign"), "landing": ("first_page", "first_page"),
    "page": ("first_page", "last_page"), "referrer": ("first_referrer_host", "last_referrer_host")}
NOT_SET = "(none)"  # a filter value for leads without one: direct visits, no service, no owner


@dataclass(frozen=True)
class Filters:
    """What the inbox is narrowed to; empty means everything open."""
    status: str = ""  # a status, "open" (default: new to proposal), or "all"
    owner: str = ""
    form: str = ""
    service: str = ""
    campaign: str = ""
    search: str = ""
    overdue: bool = False
    touch: str = "first"  # which visit the attribution filters (and campaign) look at
    source: str = ""
    medium: str = ""
    landing: str = ""
    page: str = ""
    referrer: str = ""
    received_from: datetime | None = None  # arrived at or after (UTC)
    received_before: datetime | None = None  # arrived before (UTC)


def find(engine: Engine, filters: Filters, limit: int = 100, now: datetime | None = None,
         include_spam: bool = False) -> list[dict]:
    """Leads matching the filters: overdue first, longest waiting first; then the rest, newest first."""
    now = now or utcnow()
    if any("\x00" in str(value) for value in vars(filters).values()):
        return []  # nothing stored holds a NUL (PostgreSQL would refuse to compare with one)
    overdue = (leads.c.status == LeadStatus.NEW) & (leads.c.respond_by < now)
    query = select(*LIST_COLUMNS, overdue.label("overdue"))
    for condition in _conditions(filters, overdue, include_spam):
        query = query.where(condition)
    # The middle key is only compared among overdue leads (the first key splits them off), so
    # where each database sorts its NULLs does not matter.
    query = query.order_by(case((overdue, 0), else_=1), case((overdue, leads.c.received_at), else_=None),
                           desc(leads.c.received_at)).limit(limit)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def calls(engine: Engine, lead_ids: list[str]) -> dict[str, dict]:
    """Each lead's latest consultation (a booked one before any cancelled), by lead id, in two queries.

    A cancelled one carries `cancelled_by`: who ended it, from the lead's last booking event
    (the booking package records the visitor as "visitor").
    """
    if not lead_ids:
        return {}
    found: dict[str, dict] = {}
    query = (select(bookings).where(bookings.c.lead_id.in_(lead_ids))
             .order_by((bookings.c.status == "booked").desc(), desc(bookings.c.created_at)))
    last_change = (select(events.c.lead_id, events.c.actor)
                   .where(events.c.lead_id.in_(lead_ids), events.c.kind == "booking")
                   .order_by(events.c.at, events.c.id))
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            found.setdefault(row["lead_id"], dict(row))
        actors = {lead_id: actor for lead_id, actor in conn.execute(last_change)}  # the last one wins
    for lead_id, call in found.items():
        if call["status"] != "booked":
            call["cancelled_by"] = actors.get(lead_id)
    return found


def _conditions(filters: Filters, overdue, include_spam: bool) -> list:
    found = [] if include_spam else [leads.c.spam.is_(False)]
    if filters.status in STATUSES:
        found.append(leads.c.status == filters.status)
    elif filters.status != "all":
        found.append(leads.c.status.in_(OPEN_STATUSES))
    touch = TOUCHES.index(filters.touch) if filters.touch in TOUCHES else 0
    attribution = ((leads.c[columns[touch]], getattr(filters, name)) for name, columns in ATTRIBUTION.items())
    for column, value in ((leads.c.owner, filters.owner.lower()), (leads.c.form_id, filters.form),
                          (leads.c.service, filters.service), *attribution):
        if value == NOT_SET:  # none recorded: the report's "(none)" and "(direct or unknown)" rows
            found.append(func.coalesce(column, "") == "")
        elif value:
            found.append(column == value)
    if filters.received_from is not None:
        found.append(leads.c.received_at >= filters.received_from)
    if filters.received_before is not None:
        found.append(leads.c.received_at < filters.received_before)
    if filters.overdue:
        found.append(overdue)
    if filters.search.strip():
        found.append(_search(filters.search))
    return found


def _search(text: str):
    """Name, email or company containing the text, ignoring case (LIKE wildcards are literal)."""
    # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite; autoescape makes % and _ plain characters.
    wanted = text.strip()[:SEARCH_MAX]
    return or_(*(column.icontains(wanted, autoescape=True)
                 for column in (leads.c.name, leads.c.email, leads.c.company)))


def choices(engine: Engine) -> dict[str, list[str]]:
    """The values the inbox's filters offer: the forms, services and campaigns leads have."""
    found = {}
    with engine.connect() as conn:
        for name, column in (("form", leads.c.form_id), ("service", leads.c.service),
                             ("campaign", leads.c.first_utm_campaign)):
            rows = conn.execute(select(column).where(column.is_not(None), leads.c.spam.is_(False))
                                .distinct().order_by(column).limit(200))
            found[name] = [value for value, in rows]
    return found


TRAY_COLUMNS = (leads.c.id, leads.c.received_at, leads.c.form_id, leads.c.name, leads.c.email,
                leads.c.company, leads.c.data, leads.c.verdict, leads.c.spam_reasons)


def tray(engine: Engine, limit: int = 100) -> list[dict]:
    """The leads in the spam tray, newest first."""
    query = (select(*TRAY_COLUMNS).where(leads.c.spam.is_(True))
             .order_by(desc(leads.c.received_at)).limit(limit))
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def tray_size(engine: Engine) -> int:
    """How many leads wait in the spam tray."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(leads.c.spam.is_(True))).scalar()
