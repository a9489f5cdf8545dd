"""`outbox` list, retry and retry-dead: outgoing mail and webhooks."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from capture.context import current
from capture.delivery import outbox, webhooks
from capture.cli.terminal import echo
from capture.delivery.registry import Kind
from capture.delivery.status import JobStatus

outbox_cli = AppGroup("outbox", help="Look at and retry outgoing mail.")


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
        due = job["sent_at"] if job["status"] == JobStatus.SENT else job["available_at"]
        echo(f"{job['id']:>6}  {job['status']:<7} {job['kind']:<15} tries={job['attempts']:<3} "
                   f"{due:%Y-%m-%d %H:%M:%S}  lead {job['lead_id']}  to {_recipient(job)}")
        if job["last_error"] and job["status"] != JobStatus.SENT:
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
