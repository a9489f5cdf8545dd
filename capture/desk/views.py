"""The desk's pages: the inbox, a lead, and the changes a team member makes to it.

Every page needs a signed-in team member; sales and managers change leads,
marketing only looks, and only managers reassign. Lead values are shown as
text (Jinja2 escapes them); nothing from a lead is ever rendered as HTML.
"""
from __future__ import annotations

import dataclasses
import io
from datetime import date, timedelta

from flask import (Blueprint, abort, current_app, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_login import current_user

from capture.booking import appointments
from capture.reports import charts
from capture.pipeline import search
from capture.delivery import outbox
from capture.pipeline import stages
from capture.privacy import erasure
from capture.pipeline import tray
from capture.reports import formats, report
from capture.db import store
from capture.reports import trends
from capture.core import formatting
from capture.core.clock import utcnow
from capture.schema.forms import DATE_RE
from capture.delivery.mail import History, lead_context
from capture.desk.auth import RETURN_PATH
from capture.context import current

bp = Blueprint("desk", __name__, url_prefix="/desk")
EVENT_LABELS = {"status": "Status", "note": "Note", "assign": "Reassigned",
                tray.RELEASED: "Not spam", tray.MARKED: "Spam", "booking": "Consultation"}
EXCERPT = 300



@bp.before_request
def signed_in_only():
    """Nothing under /desk/ without a session; after signing in, back to the page asked for.

    The page asked for rides along in the sign-in URL, not in a cookie: a mail scanner
    opening a desk link from an email is sent on and leaves nothing behind.
    """
    if current_user.is_authenticated:
        return None
    back = request.path if request.method in ("GET", "HEAD") and RETURN_PATH.fullmatch(request.path) else ""
    return redirect(url_for("auth.sign_in", next=back) if back not in ("", "/desk/") else url_for("auth.sign_in"))


# --- the inbox -----------------------------------------------------------------

@bp.get("/", endpoint="inbox")
def inbox_page():
    """Open leads, overdue first: mine by default for a salesperson."""
    ext, args = current(), request.args
    default_owner = "me" if "sales" in current_user.roles else ""
    owner = args.get("owner", default_owner)
    filters = search.Filters(
        status=args.get("status", "open"), owner=current_user.email if owner == "me" else owner,
        form=args.get("form", ""), service=args.get("service", ""), campaign=args.get("campaign", ""),
        search=args.get("q", "")[:search.SEARCH_MAX], overdue=args.get("overdue") == "1")
    rows = search.find(ext.engine, filters, limit=200)
    now = utcnow()
    for row in rows:
        row["age"] = stages.working_span(ext.sales.calendar.between(row["received_at"], now))
        row["owner_name"] = _name(row["owner"])
        row["service_label"] = _service_label(row)
    return render_template("desk/inbox.html", rows=rows, filters=filters, owner=owner,
                           tray_size=search.tray_size(ext.engine) if current_user.can_change else 0,
                           choices=search.choices(ext.engine), team=_sellers(),
                           statuses=stages.STATUSES, tz=ext.settings.timezone)


# --- one lead --------------------------------------------------------------------

@bp.get("/leads/<lead_id>")
def lead_page(lead_id: str, error: str = "", status: int = 200):
    """Everything about one lead: answers, attribution, messages, the timeline, the actions."""
    ext = current()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        abort(404)
    form = ext.schema.forms.get(lead["form_id"])
    count, last = store.history(ext.engine, lead)
    shown = lead_context(lead, form, History(count, last), ext.settings.timezone) if form else None
    events = stages.timeline(ext.engine, lead_id)
    for event in events:
        event["actor_name"] = _name(event["actor"]) or event["actor"]
        event["owner_name"] = _name(event["owner"])
        event["value_text"] = formatting.money(event["deal_value"], ext.sales.currency)
    booked = appointments.latest(ext.engine, lead_id)
    if booked:
        booked = {"when": formatting.wall_time(booked["starts_at"], booked["ends_at"], ext.settings.timezone),
                  "host": _name(booked["host"]), "cancelled": booked["status"] == appointments.CANCELLED}
    return render_template(
        "desk/lead.html", lead=lead, shown=shown, events=events, error=error, booked=booked,
        messages=outbox.for_lead(ext.engine, lead_id), owner_name=_name(lead["owner"]),
        times=None if lead["spam"] else stages.response_times(ext.sales, lead),
        value=formatting.money(lead["deal_value"], ext.sales.currency), currency=ext.sales.currency,
        statuses=stages.STATUSES, reasons=ext.sales.lost_reasons, team=_sellers(),
        tz=ext.settings.timezone, event_labels=EVENT_LABELS), status


@bp.post("/leads/<lead_id>/status")
def change_status(lead_id: str):
    """Move the lead; won needs a value, lost a reason."""
    _require(current_user.can_change)
    ext, form = current(), request.form
    return _apply(lead_id, lambda: stages.change_status(
        ext.engine, ext.sales, lead_id, stages.change_from(form.get("status", ""), form, ext.sales.currency),
        current_user.email),
        lambda event: f"Marked as {event['to_status']}.")


@bp.post("/leads/<lead_id>/note")
def add_note(lead_id: str):
    """Add a note to the timeline."""
    _require(current_user.can_change)
    return _apply(lead_id, lambda: stages.add_note(
        current().engine, lead_id, request.form.get("note", ""), current_user.email), lambda _: "Note added.")


@bp.post("/leads/<lead_id>/assign")
def reassign(lead_id: str):
    """Give the lead to another salesperson (managers only)."""
    _require(current_user.can_reassign)
    ext = current()
    return _apply(lead_id, lambda: stages.assign(
        ext.engine, ext.sales, lead_id, request.form.get("owner", ""), current_user.email),
        lambda event: f"Now {_name(event['owner'])}'s lead.")


@bp.post("/leads/<lead_id>/not-spam")
def not_spam(lead_id: str):
    """Release a lead from the spam tray: owner, missed messages, pipeline."""
    _require(current_user.can_change)
    return _apply(lead_id, lambda: tray.release(current(), lead_id, current_user.email),
                  lambda event: f"Not spam: now {_name(event['owner'])}'s lead; its messages are on their way.")


@bp.post("/leads/<lead_id>/spam")
def mark_spam(lead_id: str):
    """Move a lead to the spam tray, out of the inbox and the numbers."""
    _require(current_user.can_change)
    return _apply(lead_id, lambda: tray.hold(current(), lead_id, current_user.email),
                  lambda _: "Moved to the spam tray.")


# --- the spam tray ---------------------------------------------------------------

@bp.get("/spam")
def spam_tray():
    """Leads the filter held back, with its reasons, for sales and managers to review."""
    _require(current_user.can_change)
    rows = search.tray(current().engine, limit=200)
    for row in rows:
        row["excerpt"] = _excerpt(row)
    return render_template("desk/spam.html", rows=rows, tz=current().settings.timezone)


def _excerpt(row: dict) -> str:
    """The start of what they wrote, for judging at a glance."""
    form = current().schema.forms.get(row["form_id"])
    texts = [str((row["data"] or {}).get(f.name) or "") for f in form.fields if f.type == "textarea"] if form else []
    text = " ".join(" ".join(texts).split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"


@bp.post("/leads/<lead_id>/erase")
def erase(lead_id: str):
    """Erase the person behind the lead (managers only, after ticking the confirmation)."""
    _require(current_user.can_reassign)
    ext = current()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        abort(404)
    if request.form.get("confirm") != "yes":
        return lead_page(lead_id, error="Tick the box to confirm the erasure: it cannot be undone.", status=422)
    if not lead["email"]:
        return lead_page(lead_id, error="This lead holds no address to erase by.", status=422)
    found = erasure.erase(ext.engine, ext.schema, lead["email"], current_user.email, utcnow(),
                          sales=ext.sales, domain=ext.mail_domain)
    flash(f"Erased: {found['leads']} lead(s) of this person, and their address on the messages about them.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


def _apply(lead_id: str, change, done):
    """Make a change to a lead, then back to its page with what happened (or the problem)."""
    try:
        event = change()
    except stages.NoSuchLead:
        abort(404)
    except stages.PipelineError as exc:
        return lead_page(lead_id, error=str(exc), status=422)
    flash(done(event) if event else "Nothing to change.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


# --- the report --------------------------------------------------------------------

REPORT_ROLES = frozenset({"marketing", "sales", "manager"})
DIMENSION_LABELS = {"page": "Page", "blog_post": "Blog post", "landing_page": "Landing page",
                    "source": "Source", "medium": "Medium", "campaign": "Campaign",
                    "referrer_host": "Referrer host", "form": "Form", "service": "Service", "owner": "Owner"}
COLUMN_LABELS = {"views": "Views", "visitors": "Unique visitors", "leads": "Leads",
                 "conversion_rate": "Leads per 100 visitors", "contacted": "Contacted",
                 "median_first_contact_minutes": "Median working time to first contact",
                 "consultations": "Consultations", "proposals": "Proposals", "won": "Won", "lost": "Lost",
                 "win_rate": "Win rate", "revenue_pence": "Won revenue",
                 "revenue_per_100_visitors_pence": "Revenue per 100 visitors",
                 "top_lost_reasons": "Top lost reasons"}
SORTABLE = tuple(report.COLUMNS[:-1])
DAYS = (date(2000, 1, 1), date(2099, 12, 31))  # beyond these, a typo (and past what dates can hold)


class BadReport(ValueError):
    """A report parameter the page cannot use; the message says which and what would do."""


def _asked_report() -> tuple[dict, "report.Report"]:
    """The parameters asked for and their report; a bad one answers the page with the problem (400)."""
    _require(bool(current_user.roles & REPORT_ROLES))
    ext = current()
    try:
        asked = _report_args(request.args, ext.settings.timezone)
    except BadReport as exc:
        abort(make_response(render_template("desk/report.html", error=str(exc), asked=_typed(request.args),
                                            **_report_choices()), 400))
    return asked, report.report(ext.engine, ext.settings.timezone, asked["by"], asked["touch"],
                                 asked["since"], asked["until"] + timedelta(days=1))


@bp.get("/report")
def report_page():
    """The numbers from page view to won revenue, per source, campaign, page…, with charts."""
    ext = current()
    asked, found = _asked_report()
    trend = trends.weekly_by_source(ext.engine, ext.settings.timezone, asked["since"],
                                    asked["until"] + timedelta(days=1), asked["touch"])
    currency = ext.sales.currency
    return render_template(
        "desk/report.html", asked=asked, found=found, rows=_sorted(found.rows, asked),
        headings=_headings(asked), key_label=lambda key: _key_label(asked["by"], key),
        cell=lambda name, value: formats.figure(name, value, currency), money=lambda v: formatting.money(v, currency),
        csv_href=url_for("desk.report_csv", **_report_params(asked)), presets=_presets(asked),
        leads_chart=charts.weekly_chart(trend, "leads", currency, "weekly-leads"),
        revenue_chart=charts.weekly_chart(trend, "revenue", currency, "weekly-revenue"),
        funnel_chart=charts.funnel_chart(found.totals), trend=trend, **_report_choices())


@bp.get("/report.csv")
def report_csv():
    """The same report as CSV (rows in the page's order, then the totals), for a spreadsheet."""
    asked, found = _asked_report()
    out = io.StringIO()
    formats.write_report_csv(out, dataclasses.replace(found, rows=_sorted(found.rows, asked)))
    name = f"report-{asked['by']}-{asked['touch']}-{asked['since']}-to-{asked['until']}.csv"
    return current_app.response_class(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


def _report_args(args, tz) -> dict:
    """The checked parameters: dimension, touch, first and last day (inclusive), sort and direction."""
    by, touch = args.get("by", "source"), args.get("touch", "first")
    if by not in report.DIMENSIONS:
        raise BadReport(f"There is no report by '{by[:40]}'. Choose one of: "
                        + ", ".join(label.lower() for label in DIMENSION_LABELS.values()) + ".")
    if touch not in report.TOUCHES:
        raise BadReport("Credit the first or the last touch.")
    first, after = report.default_period(tz)
    since, until = _day(args, "since", first), _day(args, "until", after - timedelta(days=1))
    if since > until:
        raise BadReport(f"The period starts ({formatting.short_date(since)}) after it ends "
                        f"({formatting.short_date(until)}).")
    sort, direction = args.get("sort", "leads"), args.get("dir", "desc")
    if sort not in (by, *SORTABLE):
        raise BadReport("The table cannot be sorted by that; use the column headings' links.")
    if direction not in ("asc", "desc"):
        raise BadReport("Sort ascending (asc) or descending (desc).")
    return {"by": by, "touch": touch, "since": since, "until": until, "sort": sort, "dir": direction}


def _day(args, name: str, default: date) -> date:
    text = args.get(name, "").strip()
    if not text:
        return default
    try:  # only YYYY-MM-DD: fromisoformat alone also takes week dates (2026-W50-1)
        day = date.fromisoformat(text) if DATE_RE.match(text) else None
    except ValueError:
        day = None
    if day is None or not DAYS[0] <= day <= DAYS[1]:
        raise BadReport(f"'{text[:20]}' is not a date the report can use for "
                        f"{'from' if name == 'since' else 'until'}: write it like 2026-11-03 "
                        f"(between {DAYS[0].year} and {DAYS[1].year}).")
    return day


def _typed(args) -> dict:
    """What was asked, as typed (cut short), to show in the form again beside the message."""
    return {name: args.get(name, "")[:40] for name in ("by", "touch", "since", "until")}


def _report_params(asked: dict, **changes) -> dict:
    params = {**asked, **changes}
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items()}


def _report_choices() -> dict:
    return {"dimensions": DIMENSION_LABELS, "column_labels": COLUMN_LABELS}


def _sorted(rows: list[dict], asked: dict) -> list[dict]:
    """The rows by the chosen column; rows without a value ("–") last either way."""
    name, reverse = asked["sort"], asked["dir"] == "desc"
    present = [r for r in rows if r[name] is not None]
    key = (lambda r: str(r[name]).casefold()) if name == asked["by"] else (lambda r: r[name])
    return sorted(present, key=key, reverse=reverse) + [r for r in rows if r[name] is None]


def _headings(asked: dict) -> list[dict]:
    """The table's column headings: label, the link that sorts by it, and aria-sort."""
    out = []
    for name in (asked["by"], *report.COLUMNS):
        label = DIMENSION_LABELS[name] if name == asked["by"] else COLUMN_LABELS[name]
        heading = {"name": name, "label": label, "href": None, "aria_sort": None, "next": ""}
        if name != "top_lost_reasons":
            current = asked["sort"] == name
            first = "asc" if name == asked["by"] else "desc"
            direction = ("asc" if asked["dir"] == "desc" else "desc") if current else first
            heading.update(href=url_for("desk.report_page", **_report_params(asked, sort=name, dir=direction)),
                           next="lowest first" if direction == "asc" else "highest first",
                           aria_sort=("ascending" if asked["dir"] == "asc" else "descending") if current else None)
            if name == asked["by"]:
                heading["next"] = "A to Z" if direction == "asc" else "Z to A"
        out.append(heading)
    return out


def _presets(asked: dict) -> list[tuple[str, str]]:
    """Quick periods, as in a web analytics tool: (label, link) keeping the other choices."""
    today = report.default_period(current().settings.timezone)[1] - timedelta(days=1)
    month = today.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    periods = (("Last 7 days", today - timedelta(days=6), today), ("Last 30 days", today - timedelta(days=29), today),
               ("Last 90 days", today - timedelta(days=89), today), ("This month", month, today),
               ("Last month", last_month, month - timedelta(days=1)),
               ("Last 12 months", today - timedelta(days=364), today))
    return [(label, url_for("desk.report_page", **_report_params(asked, since=since, until=until)))
            for label, since, until in periods]


def _key_label(by: str, key: str) -> str:
    """An owner's name for their address; a service's label for its value; anything else as it is."""
    if by == "owner":
        return _name(key) if "@" in key else key
    if by == "service":
        for form in current().schema.forms.values():
            field = form.field("service")
            if field and field.choices and field.choice_label(key) != key:
                return field.choice_label(key).split(" (")[0]
    return key


def _service_label(row: dict) -> str:
    """'E-commerce site' for 'ecommerce' (the form's own label, without the price)."""
    form = current().schema.forms.get(row["form_id"])
    field = form.field("service") if form else None
    if not (field and row["service"]):
        return row["service"] or row["form_id"]
    return field.choice_label(row["service"]).split(" (")[0]


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def _name(email: str | None) -> str:
    member = current().sales.member(email) if email else None
    return member.name if member else (email or "")


def _sellers() -> list:
    return [m for m in current().sales.team if m.roles & {"sales", "manager"}]


@bp.errorhandler(403)
@bp.errorhandler(404)
def problem(error):
    titles = {403: "Not for your role", 404: "There is no such lead"}
    messages = {403: "Your role on the team (sales.yml) does not allow this change.",
                404: "It may have been erased, or the link was cut short."}
    return render_template("desk/message.html", title=titles[error.code],
                           message=messages[error.code]), error.code
