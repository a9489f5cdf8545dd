"""Numbers for marketing: `report`, `leads export` and `leads sources`."""
from __future__ import annotations

import json
from datetime import timezone

import click
from flask.cli import with_appcontext

from capture.context import current
from capture.privacy import erasure
from capture.reports import report as reports
from capture.cli.terminal import echo, terminal_safe
from capture.reports import formats

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _utc_day(day):
    return day.replace(tzinfo=timezone.utc) if day else None


@click.command("export")
@click.option("--since", type=DAY, help="First day to include (UTC), YYYY-MM-DD.")
@click.option("--until", type=DAY, help="Day to stop before (UTC), YYYY-MM-DD.")
@click.option("--include-spam", is_flag=True, help="Also export leads marked as spam.")
@click.option("--email", default=None, help="Only this person, with everything held about them "
              "(a subject access request; use --format json).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
@with_appcontext
def leads_export(since, until, include_spam: bool, email, fmt: str, output):
    """Export leads as CSV (every field, consent and attribution, oldest first), or one person's data as JSON.

    Example: flask --app capture leads export --email ada@example.com --format json -o ada.json
    """
    ext = current()
    if email:
        found = erasure.access(ext.engine, email)
        output.write(json.dumps(found, indent=2, default=str, ensure_ascii=False) + "\n")
        echo(f"{len(found['leads'])} leads of {email} exported.", err=True)
        return
    if fmt == "json":
        raise click.ClickException("--format json is for one person's data: add --email ADDRESS")
    rows = reports.lead_rows(ext.engine, _utc_day(since), _utc_day(until), include_spam)
    count = formats.write_csv(output, reports.export_columns(ext.schema), rows)
    echo(f"{count} leads exported.", err=True)


@click.command("sources")
@click.option("--by", type=click.Choice(sorted(reports.SOURCE_DIMENSIONS)), default="campaign",
              show_default=True, help="What to group leads by (first touch for UTM values).")
@click.option("--since", type=DAY, help="First day to include (UTC), YYYY-MM-DD.")
@click.option("--until", type=DAY, help="Day to stop before (UTC), YYYY-MM-DD.")
@click.option("--limit", default=20, show_default=True, help="How many rows.")
@with_appcontext
def leads_sources(by: str, since, until, limit: int):
    """Count leads (spam left out) by campaign, source, landing page, page or form.

    Example: flask --app capture leads sources --by landing-page --since 2026-11-01
    """
    rows = reports.lead_sources(current().engine, by, _utc_day(since), _utc_day(until), limit)
    if not rows:
        echo("No leads in that period.")
    width = max((len(value) for value, _ in rows), default=0)
    for value, count in rows:
        echo(f"{value:<{width}}  {count:>5}")


# --- the report --------------------------------------------------------------

@click.command("report")
@click.option("--by", type=click.Choice([d.replace("_", "-") for d in reports.DIMENSIONS]),
              default="campaign", show_default=True, help="What to group by.")
@click.option("--since", type=DAY, help="First day to include (business time zone), YYYY-MM-DD "
              "(default: 29 days before today).")
@click.option("--until", type=DAY, help="Day to stop before, YYYY-MM-DD (default: tomorrow).")
@click.option("--touch", type=click.Choice(reports.TOUCHES), default="first", show_default=True,
              help="Credit the visit a lead first came on, or the one it sent the form from.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text",
              show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
@with_appcontext
def report(by: str, since, until, touch: str, fmt: str, output):
    """From page view to won revenue: views, visitors, leads, speed to lead, funnel, wins, revenue.

    One row per page, campaign, source… with a totals row; spam left out. A lead counts in the
    period it arrived in, with everything that happened to it since.

    Example: flask --app capture report --by page --since 2026-11-01 --until 2026-12-01 --format csv
    """
    ext = current()
    default = reports.default_period(ext.settings.timezone)
    since, until = (since.date() if since else default[0]), (until.date() if until else default[1])
    if until <= since:
        raise click.ClickException("--until must be after --since (it is the day to stop before)")
    found = reports.report(ext.engine, ext.settings.timezone, by.replace("-", "_"), touch, since, until,
                           calendar=ext.sales.calendar)
    if fmt == "csv":
        formats.write_report_csv(output, found)
    elif fmt == "json":
        output.write(json.dumps(formats.json_records(found), indent=2, ensure_ascii=False) + "\n")
    else:
        output.write(terminal_safe(formats.text_table(found, ext.sales.currency)) + "\n")
