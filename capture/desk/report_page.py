"""The desk's report page and its CSV: the numbers from page view to won revenue, with charts.

Marketing, sales and managers see it. The routes are on views.bp (desk.report_page, desk.report_csv).
"""
from __future__ import annotations

import dataclasses
import functools
import io
from datetime import date, timedelta

from flask import abort, current_app, make_response, render_template, request, url_for
from flask_login import current_user

from capture.context import current
from capture.desk.views import bp, name_of, require
from capture.core import formatting, page_titles
from capture.desk import lead_links
from capture.reports import charts, formats, open_pipeline, report, trends
from capture.schema.checks import DATE_RE

REPORT_ROLES = frozenset({"marketing", "sales", "manager"})
DIMENSION_LABELS = {"page": "Page", "blog_post": "Blog post", "landing_page": "Landing page",
                    "source": "Source", "medium": "Medium", "campaign": "Campaign",
                    "referrer_host": "Referrer host", "form": "Form", "service": "Service", "owner": "Owner"}
COLUMN_LABELS = {"views": "Views", "visitors": "Unique visitors", "visits": "Visits", "bounce_rate": "Bounce rate",
                 "leads": "Leads", "leads_per_100_visits": "Leads per 100 visits", "contacted": "Contacted",
                 "median_first_contact_minutes": "Median working time to first contact",
                 "p90_first_contact_minutes": "p90 working time to first contact",
                 "first_contact_n": "Leads timed (n)", "still_waiting": "Still waiting",
                 "self_booked": "Booked a time themselves",
                 "consultations": "Consultations", "meetings": "Meetings booked", "held": "Meetings held",
                 "no_shows": "No-shows", "proposals": "Proposals", "won": "Won", "lost": "Lost",
                 "win_rate": "Win rate", "revenue_pence": "Won revenue",
                 "revenue_per_100_visits_pence": "Revenue per 100 visits",
                 "top_lost_reasons": "Top lost reasons"}
SORTABLE = tuple(report.COLUMNS[:-1])
PAGE_DIMENSIONS = frozenset({"page", "blog_post", "landing_page"})  # keys that are the site's paths
DAYS = (date(2000, 1, 1), date(2099, 12, 31))  # beyond these, a typo (and past what dates can hold)


class BadReport(ValueError):
    """A report parameter the page cannot use; the message says which and what would do."""


def _asked_report() -> tuple[dict, "report.Report"]:
    """The parameters asked for and their report; a bad one answers the page with the problem (400)."""
    require(bool(current_user.roles & REPORT_ROLES))
    ext = current()
    try:
        asked = _report_args(request.args, ext.settings.timezone)
    except BadReport as exc:
        abort(make_response(render_template("desk/report.html", error=str(exc), asked=_typed(request.args),
                                            **_report_choices()), 400))
    return asked, report.report(ext.engine, ext.settings.timezone, asked["by"], asked["touch"],
                                 asked["since"], asked["until"] + timedelta(days=1), calendar=ext.sales.calendar)


@bp.get("/report")
def report_page():
    """The numbers from page view to won revenue, per source, campaign, page…, with charts."""
    ext = current()
    asked, found = _asked_report()
    tz, currency, until = ext.settings.timezone, ext.sales.currency, asked["until"] + timedelta(days=1)
    titles = page_titles.titles(ext.settings.site_dir) if asked["by"] in PAGE_DIMENSIONS else {}
    label = functools.partial(_key_label, asked["by"], titles=titles)
    trend = trends.over_time(ext.engine, tz, asked["since"], until, asked["by"], asked["touch"], label=label)
    by_label = DIMENSION_LABELS[asked["by"]].lower()
    stages = open_pipeline.by_stage(ext.engine, tz, asked["since"], until, open_pipeline.list_prices())
    return render_template(
        "desk/report.html", asked=asked, found=found, rows=_sorted(found.rows, asked),
        headings=_headings(asked), key_label=label, row_href=lambda row: _row_href(asked, row),
        cell=lambda name, value: formats.figure(name, value, currency), money=lambda v: formatting.money(v, currency),
        speed_text=formats.speed_text,
        csv_href=url_for("desk.report_csv", **_report_params(asked)), presets=_presets(asked),
        visitors_chart=charts.visitors_and_leads_chart(trend, "visitors-leads"),
        leads_chart=charts.over_time_chart(trend, "leads", by_label, currency, "over-time-leads"),
        revenue_chart=charts.over_time_chart(trend, "revenue", by_label, currency, "over-time-revenue"),
        funnel_chart=charts.funnel_chart(found.totals), trend=trend, per=charts.PER[trend.grain],
        stages=stages, stage_href=lambda stage: url_for("desk.inbox", **_stage_params(asked, stage)),
        **_report_choices())


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


def _row_href(asked: dict, row: dict) -> str | None:
    """The inbox narrowed to the row's leads; None for a row without leads or of no one key."""
    params = lead_links.row_params(asked["by"], asked["touch"], row[asked["by"]], asked["since"], asked["until"])
    return url_for("desk.inbox", **params) if params and row["leads"] else None


def _stage_params(asked: dict, stage: str) -> dict:
    """The inbox's parameters for the period's leads at an open stage."""
    return {**lead_links.row_params(asked["by"], asked["touch"], report.TOTAL, asked["since"], asked["until"]),
            "status": stage}


def _key_label(by: str, key: str, titles: dict[str, str] | None = None) -> str:
    """A page's title for its path; an owner's name for their address; a service's label; anything else as it is."""
    if by in PAGE_DIMENSIONS and titles:
        return page_titles.title_of(key, titles)
    if by == "owner":
        return name_of(key) if "@" in key else key
    if by == "service":
        for form in current().schema.forms.values():
            field = form.field("service")
            if field and field.choices and field.choice_label(key) != key:
                return field.choice_label(key).split(" (")[0]
    return key
