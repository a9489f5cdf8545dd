"""`flask --app capture …` commands for operators and sales."""
from __future__ import annotations

import json
import signal
from contextlib import contextmanager
import threading
import unicodedata
from datetime import timezone
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from capture.reports import digest
from capture.pipeline import search
from capture.delivery import mail
from capture.delivery import outbox
from capture.pipeline import stages
from capture.privacy import erasure
from capture.pipeline import tray
from capture.reports import formats
from capture.reports import report as reports
from capture.db import store
from capture.db.migrate import migrate
from capture.delivery import webhooks
from capture.delivery.worker import Worker, start_threads, stop_threads
from capture.core import formatting
from capture.core import urls
from capture.core.paths import TEMPLATES
from capture.core.clock import utcnow
from capture.core.setting_checks import ConfigError
from capture.context import current
from capture.delivery.registry import Kind

db_cli = AppGroup("db", help="Database schema commands.")
leads_cli = AppGroup("leads", help="Look at stored leads.")
outbox_cli = AppGroup("outbox", help="Look at and retry outgoing mail.")


def register(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    app.cli.add_command(db_cli)
    app.cli.add_command(leads_cli)
    app.cli.add_command(check)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(worker)
    app.cli.add_command(report)
    app.cli.add_command(digest_command)



# Control, format (bidi overrides, zero-width), separator and surrogate characters:
# stored text shown to a terminal must not move the cursor, recolour the screen,
# or read in another order than it is.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def terminal_safe(text: str) -> str:
    """`text` with every unsafe character shown as an escape such as \\u202e (newlines kept)."""
    return "".join(f"\\u{ord(c):04x}" if c != "\n" and unicodedata.category(c) in UNSAFE_CATEGORIES
                   else c for c in text)


def echo(text: str = "", **kwargs) -> None:
    """click.echo for anything that may contain stored text."""
    click.echo(terminal_safe(text), **kwargs)


@db_cli.command("upgrade")
def db_upgrade():
    """Apply any pending migrations.

    Example: flask --app capture db upgrade
    """
    migrate(current().engine)
    echo("Database schema is up to date.")


@click.command("check")
@with_appcontext
def check():
    """Check the settings and the form schema, and say where leads and mail go.

    Example: flask --app capture check
    """
    ext = current()
    url = ext.engine.url
    where = (f"SQLite at {url.database}" if url.get_backend_name() == "sqlite"
             else f"PostgreSQL at {url.host}/{url.database}")
    echo(f"Forms: {', '.join(ext.schema.forms)} (from {ext.settings.forms_path})")
    echo(f"Leads: stored in {where}")
    echo(f"Mail: {ext.settings.mail.describe()}")
    echo(f"Links in emails: {urls.external(ext.settings.public_url, '/')}")
    for endpoint in ext.sales.webhooks:
        # Scheme and host only: a receiver's path may carry a token of its own.
        parts = urlsplit(endpoint.url)
        echo(f"Webhook {endpoint.name}: {', '.join(sorted(endpoint.events))} to {parts.scheme}://{parts.netloc}/…")
    try:
        webhooks.check_secrets(ext.sales, ext.settings.webhook_secrets)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if ext.settings.site_dir:
        echo(f"Site: serving {ext.settings.site_dir}/")
    pages = ext.settings.site_pages
    echo(f"Page views: stored for the site's {len(pages)} listed pages" if pages is not None
         else "Page views: stored for any path (no list of the site's pages: CAPTURE_SITE_PATHS)")


@leads_cli.command("list")
@click.option("--limit", default=20, show_default=True, help="How many leads.")
@click.option("--status", type=click.Choice(["all", "open", *stages.STATUSES]), default="all",
              show_default=True, help="Only leads in this status (open = new to proposal).")
@click.option("--owner", default="", help="Only leads this team member owns (email).")
@click.option("--overdue", is_flag=True, help="Only leads still new past their first-contact deadline.")
@click.option("--include-spam", is_flag=True, help="Also list leads marked as spam.")
def leads_list(limit: int, status: str, owner: str, overdue: bool, include_spam: bool):
    """List leads one per line: overdue first, then newest.

    Example: flask --app capture leads list --status open --owner tom@fernleaf.example --overdue
    """
    rows = search.find(current().engine, search.Filters(status=status, owner=owner, overdue=overdue),
                      limit=limit, include_spam=include_spam)
    if not rows:
        echo("No leads yet." if status == "all" and not (owner or overdue) else "No leads match.")
    for row in rows:
        flags = "".join(f" [{name}]" for name in ("overdue", "spam") if row[name])
        flags += " [suspect]" if row["verdict"] == "suspect" and not row["spam"] else ""
        echo(f"{row['id']}  {row['received_at']:%Y-%m-%d %H:%M}  {row['form_id']:<12} {row['status']:<12} "
             f"{row['owner'] or '-':<24} {row['name'] or '-'} <{row['email'] or '-'}> "
             f"{row['service'] or ''}{flags}")


@leads_cli.command("show")
@click.argument("lead_id")
def leads_show(lead_id: str):
    """Print one lead with every stored value, its response times and its events, as JSON.

    Example: flask --app capture leads show 3q2Vx0dTqk9nT1bL6YpA
    """
    ext = current()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        raise click.ClickException(f"no lead with id {lead_id}")
    if not lead["spam"]:
        lead["response"] = stages.response_times(ext.sales, lead)
        lead["value"] = formatting.money(lead["deal_value"], ext.sales.currency) or None
    lead["events"] = stages.timeline(ext.engine, lead_id)
    echo(json.dumps(lead, indent=2, default=str, ensure_ascii=False))


@leads_cli.command("status")
@click.argument("lead_id")
@click.argument("status", type=click.Choice(stages.STATUSES))
@click.option("--value", default=None, help="The deal value (needed for won), e.g. 8500 or 8,500.00.")
@click.option("--reason", default=None, help="Why it was lost (needed for lost): one of sales.yml's lost_reasons.")
@click.option("--note", default=None, help="A note to keep with the change (needed for lost/other).")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True,
              help="Who made the change: a team member's email.")
def leads_status(lead_id: str, status: str, value, reason, note, actor: str):
    """Move a lead through the pipeline (new, contacted, consultation, proposal, won, lost).

    Example: flask --app capture leads status 01a2b3c4d5e6AbCdEf won --value 8500 --by maya@fernleaf.example
    """
    ext = current()
    with _pipeline_errors():
        amount = stages.parse_money(value, ext.sales.currency) if value is not None else None
        event = stages.change_status(ext.engine, ext.sales, lead_id,
                                       stages.Change(status, amount, reason, note), _actor(actor))
    echo(f"Lead {lead_id} is now {status}." if event else f"Lead {lead_id} already was {status}; nothing changed.")


@leads_cli.command("note")
@click.argument("lead_id")
@click.argument("text")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who wrote it: a team member's email.")
def leads_note(lead_id: str, text: str, actor: str):
    """Add a note to a lead's timeline.

    Example: flask --app capture leads note 01a2b3c4d5e6AbCdEf "Called, back on Monday" --by tom@fernleaf.example
    """
    with _pipeline_errors():
        stages.add_note(current().engine, lead_id, text, _actor(actor))
    echo(f"Note added to lead {lead_id}.")


@leads_cli.command("assign")
@click.argument("lead_id")
@click.argument("email")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who reassigned it.")
def leads_assign(lead_id: str, email: str, actor: str):
    """Give a lead to another salesperson or manager.

    Example: flask --app capture leads assign 01a2b3c4d5e6AbCdEf tom@fernleaf.example
    """
    ext = current()
    with _pipeline_errors():
        event = stages.assign(ext.engine, ext.sales, lead_id, email, _actor(actor))
    echo(f"Lead {lead_id} is now {email}'s." if event else f"Lead {lead_id} already was {email}'s.")


@leads_cli.command("spam")
@click.argument("lead_id")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who decided it.")
def leads_spam(lead_id: str, actor: str):
    """Move a lead to the spam tray: out of the inbox and the numbers; its unsent mail is held.

    Example: flask --app capture leads spam 01a2b3c4d5e6AbCdEf --by tom@fernleaf.example
    """
    with _pipeline_errors():
        event = tray.hold(current(), lead_id, _actor(actor))
    echo(f"Lead {lead_id} is in the spam tray." if event else f"Lead {lead_id} already was in the spam tray.")


@leads_cli.command("not-spam")
@click.argument("lead_id")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who decided it.")
def leads_not_spam(lead_id: str, actor: str):
    """Release a lead from the spam tray: it gets an owner and the messages it missed, once.

    Example: flask --app capture leads not-spam 01a2b3c4d5e6AbCdEf --by maya@fernleaf.example
    """
    with _pipeline_errors():
        event = tray.release(current(), lead_id, _actor(actor))
    echo(f"Lead {lead_id} released: {event['owner']} owns it; its messages are queued." if event
         else f"Lead {lead_id} was not in the spam tray; nothing changed.")


def _actor(email: str) -> str:
    """`system`, or a team member's address (anything else is refused)."""
    if email == stages.SYSTEM:
        return email
    member = current().sales.member(email)
    if member is None:
        raise click.ClickException(f"{email} is not on the team (sales.yml)")
    return member.email


@contextmanager
def _pipeline_errors():
    try:
        yield
    except stages.PipelineError as exc:
        raise click.ClickException(str(exc)) from None


# --- leads for marketing: export and sources ------------------------------------

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _utc_day(day):
    return day.replace(tzinfo=timezone.utc) if day else None


@leads_cli.command("export")
@click.option("--since", type=DAY, help="First day to include (UTC), YYYY-MM-DD.")
@click.option("--until", type=DAY, help="Day to stop before (UTC), YYYY-MM-DD.")
@click.option("--include-spam", is_flag=True, help="Also export leads marked as spam.")
@click.option("--email", default=None, help="Only this person, with everything held about them "
              "(a subject access request; use --format json).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
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


@leads_cli.command("erase")
@click.option("--email", required=True, help="The person's address, as they gave it on the form.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who asked for it (kept in the log).")
def leads_erase(email: str, dry_run: bool, actor: str):
    """Erase one person: what they typed and their address on every lead and message (a right-to-erasure request).

    What stays identifies no one: form, dates, status, value, attribution, the choices made.

    Example: flask --app capture leads erase --email ada@example.com --dry-run
    """
    ext = current()
    found = erasure.erase(ext.engine, ext.schema, email, _actor(actor), utcnow(), dry_run=dry_run,
                          sales=ext.sales, domain=ext.mail_domain)
    verb = "Would erase" if dry_run else "Erased"
    echo(f"{verb} {found['leads']} lead(s) and the addresses on {found['messages']} message(s).")
    if found["notes_naming"]:
        echo(f"{'Would remove' if dry_run else 'Removed'} {len(found['notes_naming'])} staff note(s) that named "
             f"them: event ids {', '.join(map(str, found['notes_naming']))}.")


@leads_cli.command("sources")
@click.option("--by", type=click.Choice(sorted(reports.SOURCE_DIMENSIONS)), default="campaign",
              show_default=True, help="What to group leads by (first touch for UTM values).")
@click.option("--since", type=DAY, help="First day to include (UTC), YYYY-MM-DD.")
@click.option("--until", type=DAY, help="Day to stop before (UTC), YYYY-MM-DD.")
@click.option("--limit", default=20, show_default=True, help="How many rows.")
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
    found = reports.report(ext.engine, ext.settings.timezone, by.replace("-", "_"), touch, since, until)
    if fmt == "csv":
        formats.write_report_csv(output, found)
    elif fmt == "json":
        output.write(json.dumps(formats.json_records(found), indent=2, ensure_ascii=False) + "\n")
    else:
        output.write(terminal_safe(formats.text_table(found, ext.sales.currency)) + "\n")


# --- mail --------------------------------------------------------------------

@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron or scripts).")
@click.option("--name", default=None, help="This worker's name in the outbox (default host:pid:random; "
              "with several threads, NAME-1, NAME-2, …).")
@click.option("--threads", type=click.IntRange(1, 32), default=None,
              help="Sending threads (default CAPTURE_WORKER_THREADS, 2).")
@with_appcontext
def worker(once: bool, name: str | None, threads: int | None):
    """Deliver outgoing mail from the outbox until stopped (SIGTERM or Ctrl+C).

    Several may run at once, on one machine or many. Settings: CAPTURE_MAIL_URL,
    CAPTURE_WORKER_POLL, CAPTURE_WORKER_THREADS, CAPTURE_MAIL_LEASE, CAPTURE_MAIL_RETRY_* and friends.

    Example: flask --app capture worker
    """
    ext = current()
    try:
        webhooks.check_secrets(ext.sales, ext.settings.webhook_secrets)  # before a thread starts
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if once:
        echo(f"Delivered or retried {Worker(ext, name=name).run_once()} message(s).")
        return
    started = start_threads(ext, threads or ext.settings.delivery.threads, name)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    names = ", ".join(w.name for w, _ in started)
    echo(f"Mail worker {names}: mail is {ext.settings.mail.describe()} (Ctrl+C stops)")
    while not stopping.wait(1.0) and all(t.is_alive() for _, t in started):
        pass
    stop_threads(started, timeout=ext.settings.delivery.smtp_timeout * 6)
    echo("Mail worker stopped.")


@outbox_cli.command("list")
@click.option("--status", type=click.Choice(["waiting", *outbox.STATUSES, "all"]), default="all",
              show_default=True, help="Only jobs in this state (waiting = pending or sending).")
@click.option("--limit", default=50, show_default=True, help="How many of the newest jobs.")
def outbox_list(status: str, limit: int):
    """List outgoing messages (mail and webhooks), newest first, with their state and last error.

    A webhook shows its endpoint (sales.yml's name) and event: `to crm: lead.created`.

    Example: flask --app capture outbox list --status dead
    """
    jobs = outbox.list_jobs(current().engine, None if status == "all" else status, limit)
    for job in jobs:
        due = job["sent_at"] if job["status"] == "sent" else job["available_at"]
        echo(f"{job['id']:>6}  {job['status']:<7} {job['kind']:<15} tries={job['attempts']:<3} "
                   f"{due:%Y-%m-%d %H:%M:%S}  lead {job['lead_id']}  to {_recipient(job)}")
        if job["last_error"] and job["status"] != "sent":
            echo(f"        last error: {job['last_error'][:200]}")
    if not jobs:
        echo("No messages.")


def _recipient(job: dict) -> str:
    """The address a mail goes to; for a webhook, its endpoint and event."""
    if job["kind"] != Kind.WEBHOOK:
        return job["recipient"]
    try:
        return f"{job['recipient']}: {webhooks.parse_id(job['ref'])[0]}"
    except ValueError:
        return job["recipient"]


@outbox_cli.command("retry")
@click.argument("job_id", type=int)
def outbox_retry(job_id: int):
    """Send one dead (or waiting) message again now, with a fresh retry schedule.

    Example: flask --app capture outbox retry 42
    """
    if not outbox.retry(current().engine, [job_id]):
        raise click.ClickException(f"no dead or pending message with id {job_id} "
                                   "(see: flask --app capture outbox list)")
    echo(f"Message {job_id} will be sent again now.")


@outbox_cli.command("retry-dead")
def outbox_retry_dead():
    """Send every dead message again now, e.g. after fixing the mail settings.

    Example: flask --app capture outbox retry-dead
    """
    count = outbox.retry(current().engine)
    echo(f"{count} dead message(s) will be sent again now.")


# --- the weekly digest -------------------------------------------------------------

@click.command("digest")
@click.option("--preview", is_flag=True, help="Print last week's digest as its readers would get it.")
@click.option("--send", "send_now", is_flag=True, help="Queue last week's digest for every reader now.")
@with_appcontext
def digest_command(preview: bool, send_now: bool):
    """The weekly digest (Mondays 08:00, by the worker): last week against the week before.

    Example: flask --app capture digest --preview
    """
    ext = current()
    if preview == send_now:
        raise click.UsageError("say --preview (print it) or --send (queue it now)")
    now, tz = utcnow(), ext.settings.timezone
    week = digest.last_week(now, tz)
    if preview:
        report_url = urls.external(ext.settings.public_url, "/desk/report")
        ctx = digest.context(ext.engine, ext.sales, tz, week, report_url, now)
        env = mail.environment(TEMPLATES / "email")
        reader = (digest.readers(ext.sales) or [None])[0]
        echo(env.get_template(f"{Kind.DIGEST}.subject.txt").render(ctx).strip())
        echo(env.get_template(f"{Kind.DIGEST}.txt").render({**ctx, "name": reader.name if reader else "team"}))
        return
    tag = f"{week.label}.now-{now:%Y%m%dT%H%M%S}"
    if not digest.queue(ext.engine, ext.sales, ext.mail_domain, now, week, tag=tag):
        raise click.ClickException("nobody on the team (sales.yml) has the role marketing, sales or manager")
    echo(f"Digest for {week.label} queued for {len(digest.readers(ext.sales))} reader(s); the worker sends it.")
