"""The weekly digest: last week against the week before, for marketing and sales alike.

Every Monday at 08:00 business time the worker queues one message per team
member with the role marketing, sales or manager. Its Message-IDs are fixed by
the ISO week reported (`<digest.2026-W48.maya.at.fernleaf.example@…>`), so any number of workers
queue it once, and a worker that was down at 08:00 queues it when it is back.
The numbers come from report.report, the same implementation as the desk's
report page and `flask report`: both teams read the same figures.
None is queued until the business has had a full week of data: the week reported must start
on or after the first day with a lead or a page view (`full_week`), so a first start does not
mail the whole team an all-zero digest. (`flask digest --send` is asked for: it always queues.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from capture.core import urls
from capture.pipeline import search
from capture.reports import formats, report
from capture.delivery.registry import Kind
from capture.db.models import leads, outbox, page_views
from capture.delivery.outbox import job
from capture.core.formatting import money
from capture.db.engine import reading, writing
from capture.delivery import mail
from capture.delivery.registry import Rendering, Unwanted, register, register_periodic
from capture.context import Capture

READERS = ("marketing", "sales", "manager")
SEND_AT = time(8, 0)  # Monday, business time
TOP = 5
WAITING_SHOWN = 10


@dataclass(frozen=True)
class Week:
    """An ISO week: Monday `start`, the Monday after `end`, and its label (2026-W48)."""
    start: date

    @property
    def end(self) -> date:
        return self.start + timedelta(days=7)

    @property
    def label(self) -> str:
        year, number, _ = self.start.isocalendar()
        return f"{year}-W{number:02d}"

    def before(self) -> "Week":
        return Week(self.start - timedelta(days=7))


def last_week(now: datetime, tz) -> Week:
    """The week before the one `now` is in (business time)."""
    today = now.astimezone(tz).date()
    return Week(today - timedelta(days=today.weekday() + 7))


def due(now: datetime, tz) -> bool:
    """Whether this week's digest (about last week) may go: Monday 08:00 has passed."""
    local = now.astimezone(tz)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), SEND_AT, tz)
    return local >= monday


def readers(sales) -> list:
    """Who gets the digest: everyone on the team who markets, sells or manages."""
    return [m for m in sales.team if m.roles & set(READERS)]


def ensure_weekly(engine, sales, domain: str, now: datetime, tz) -> bool:
    """Queue last week's digest for every reader unless it is queued already; True if queued now."""
    if not due(now, tz):
        return False
    week = last_week(now, tz)
    if not full_week(engine, tz, week):
        return False
    return queue(engine, sales, domain, now, week, tag=week.label)


def first_day(engine, tz) -> date | None:
    """The first day with a lead (spam left out) or a page view, in business time; None before any."""
    with reading(engine) as conn:
        first_lead = conn.execute(select(func.min(leads.c.received_at)).where(leads.c.spam.is_(False))).scalar()
        first_view = conn.execute(select(func.min(page_views.c.day))).scalar()
    days = [d for d in (first_lead.astimezone(tz).date() if first_lead else None, first_view) if d is not None]
    return min(days) if days else None


def full_week(engine, tz, week: Week) -> bool:
    """Whether the business had data for all of `week`: its digest would not be all zeros, nor half a week's."""
    first = first_day(engine, tz)
    return first is not None and first <= week.start


def queue(engine, sales, domain: str, now: datetime, week: Week, tag: str) -> bool:
    """One message per reader for `week`, all or none; False when `tag` was queued before."""
    # One @ in a Message-ID: the reader's address goes in with its @ spelled out.
    rows = [job(None, Kind.DIGEST, member.email, f"<digest.{tag}.{member.email.replace('@', '.at.')}@{domain}>"[:250], now,
                ref=week.start.isoformat()) for member in readers(sales)]
    if not rows:
        return False
    try:
        with writing(engine) as conn:
            conn.execute(outbox.insert(), rows)
        return True
    except IntegrityError:
        return False


def context(engine, sales, tz, week: Week, report_url: str, now: datetime) -> dict:
    """Everything the digest says about `week`, against the week before."""
    this, before = _totals(engine, sales, tz, week, now), _totals(engine, sales, tz, week.before(), now)
    pages = report.report(engine, tz, by="page", since=week.start, until=week.end, calendar=sales.calendar, now=now)
    campaigns = report.report(engine, tz, by="campaign", since=week.start, until=week.end,
                              calendar=sales.calendar, now=now)
    waiting = search.find(engine, search.Filters(status="new"), limit=200, now=now)
    return {
        "week": week, "label": week.label, "first_day": week.start, "last_day": week.end - timedelta(days=1),
        "figures": [_figure(name, label, this, before, sales.currency) for name, label in FIGURES],
        "pages_by_leads": _top(pages, "leads", sales.currency),
        "pages_by_revenue": _top(pages, "revenue_pence", sales.currency),
        "campaigns_by_leads": _top(campaigns, "leads", sales.currency),
        "campaigns_by_revenue": _top(campaigns, "revenue_pence", sales.currency),
        "waiting": [{"name": row["name"] or row["email"] or "(no name)", "received_at": row["received_at"],
                     "overdue": row["overdue"]} for row in waiting[:WAITING_SHOWN]],
        "waiting_count": len(waiting),
        "report_url": urls.external(report_url, since=week.start, until=week.end - timedelta(days=1)),
        "currency": sales.currency, "tz": tz,
    }


FIGURES = (("visitors", "Visitors"), ("leads", "Leads"), ("leads_per_100_visits", "Leads per 100 visits"),
           ("median_first_contact_minutes", "First reply (working time)"),
           ("no_shows", "No-shows at consultations"), ("won", "Won"),
           ("revenue_pence", "Revenue"))


def _totals(engine, sales, tz, week: Week, now: datetime) -> dict:
    return report.report(engine, tz, by="page", since=week.start, until=week.end, calendar=sales.calendar,
                         now=now).totals


def _figure(name: str, label: str, this: dict, before: dict, currency: str) -> dict:
    now, then = this.get(name), before.get(name)
    change = None
    if isinstance(now, (int, float)) and isinstance(then, (int, float)) and then:
        change = round((now - then) * 100 / then)
    if name == "median_first_contact_minutes":  # speed to lead says what it counts (pipeline/speed.py)
        return {"label": label, "now": formats.speed_text(this), "then": formats.speed_text(before),
                "change": change}
    return {"label": label, "now": formats.figure(name, now, currency),
            "then": formats.figure(name, then, currency), "change": change}


def _top(found, by: str, currency: str) -> list[dict]:
    """The first few rows by `by` (leads or revenue), leaving out those with none."""
    rows = sorted((row for row in found.rows if row.get(by)), key=lambda row: -row[by])
    return [{"key": row[found.by], "leads": row["leads"], "revenue": money(row["revenue_pence"] or 0, currency)}
            for row in rows[:TOP]]


def init_app() -> None:
    """The digest is a message kind queued once a week (when CAPTURE_DIGEST is on)."""
    register(Kind.DIGEST, render)
    register_periodic(Kind.DIGEST, period, schedule)


def period(cap: Capture, now: datetime) -> Week | None:
    """The week whose digest is due now; None while none is (or the digest is off)."""
    tz = cap.settings.timezone
    return last_week(now, tz) if cap.settings.digest and due(now, tz) else None


def schedule(cap: Capture, now: datetime) -> None:
    """Queue this week's digest for every reader, once for all workers."""
    ensure_weekly(cap.engine, cap.sales, cap.mail_domain, now, cap.settings.timezone)


def render(r: Rendering, job: dict):
    """The weekly digest, with the numbers as they are now, for a reader still on the team."""
    cap = r.capture
    member = cap.sales.member(job["recipient"])
    if member is None or member not in readers(cap.sales):
        raise Unwanted("the address no longer reads the digest (sales.yml)")
    week = Week(date.fromisoformat(job["ref"]))
    ctx = context(cap.engine, cap.sales, cap.settings.timezone, week,
                  urls.external(cap.settings.public_url, "/desk/report"), r.now)
    return mail.assemble(r.env, job, Kind.DIGEST, {**ctx, "name": member.name}, mail_from=cap.settings.mail_from)
