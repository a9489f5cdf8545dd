"""`leads` list, show and move through the pipeline (status, note, assign, spam, not-spam)."""
from __future__ import annotations

import json
from contextlib import contextmanager

import click
from flask.cli import AppGroup

from capture.context import current
from capture.db import store
from capture.pipeline import search, stages, tray
from capture.cli.terminal import echo
from capture.core import formatting

leads_cli = AppGroup("leads", help="Look at stored leads.")


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
                                       stages.Change(status, amount, reason, note), team_member(actor))
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
        stages.add_note(current().engine, lead_id, text, team_member(actor))
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
        event = stages.assign(ext.engine, ext.sales, lead_id, email, team_member(actor), ext.mail_domain)
    echo(f"Lead {lead_id} is now {email}'s." if event else f"Lead {lead_id} already was {email}'s.")


@leads_cli.command("spam")
@click.argument("lead_id")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who decided it.")
def leads_spam(lead_id: str, actor: str):
    """Move a lead to the spam tray: out of the inbox and the numbers; its unsent mail is held.

    Example: flask --app capture leads spam 01a2b3c4d5e6AbCdEf --by tom@fernleaf.example
    """
    with _pipeline_errors():
        event = tray.hold(current(), lead_id, team_member(actor))
    echo(f"Lead {lead_id} is in the spam tray." if event else f"Lead {lead_id} already was in the spam tray.")


@leads_cli.command("not-spam")
@click.argument("lead_id")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who decided it.")
def leads_not_spam(lead_id: str, actor: str):
    """Release a lead from the spam tray: it gets an owner and the messages it missed, once.

    Example: flask --app capture leads not-spam 01a2b3c4d5e6AbCdEf --by maya@fernleaf.example
    """
    with _pipeline_errors():
        event = tray.release(current(), lead_id, team_member(actor))
    echo(f"Lead {lead_id} released: {event['owner']} owns it; its messages are queued." if event
         else f"Lead {lead_id} was not in the spam tray; nothing changed.")


def team_member(email: str) -> str:
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
