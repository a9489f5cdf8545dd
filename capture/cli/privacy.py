"""`leads erase`: a right-to-erasure request from the command line."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from capture.context import current
from capture.core.clock import utcnow
from capture.pipeline import stages
from capture.privacy import erasure
from capture.cli.leads import team_member
from capture.cli.terminal import echo


@click.command("erase")
@click.option("--email", required=True, help="The person's address, as they gave it on the form.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option("--by", "actor", default=stages.SYSTEM, show_default=True, help="Who asked for it (kept in the log).")
@with_appcontext
def leads_erase(email: str, dry_run: bool, actor: str):
    """Erase one person: what they typed and their address on every lead and message (a right-to-erasure request).

    What stays identifies no one: form, dates, status, value, attribution, the choices made.

    Example: flask --app capture leads erase --email ada@example.com --dry-run
    """
    ext = current()
    found = erasure.erase(ext.engine, ext.schema, email, team_member(actor), utcnow(), dry_run=dry_run,
                          sales=ext.sales, domain=ext.mail_domain)
    verb = "Would erase" if dry_run else "Erased"
    echo(f"{verb} {found['leads']} lead(s) and the addresses on {found['messages']} message(s).")
    if found["notes_naming"]:
        echo(f"{'Would remove' if dry_run else 'Removed'} {len(found['notes_naming'])} staff note(s) that named "
             f"them: event ids {', '.join(map(str, found['notes_naming']))}.")
