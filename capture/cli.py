"""`flask --app capture …` commands for operators and sales."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import desc, select

from . import store
from .models import leads

db_cli = AppGroup("db", help="Database schema commands.")
leads_cli = AppGroup("leads", help="Look at stored leads.")


def register(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    app.cli.add_command(db_cli)
    app.cli.add_command(leads_cli)
    app.cli.add_command(check)


def _ext():
    return current_app.extensions["capture"]


@db_cli.command("upgrade")
def db_upgrade():
    """Apply any pending migrations.

    Example: flask --app capture db upgrade
    """
    store.migrate(_ext().engine)
    click.echo("Database schema is up to date.")


@click.command("check")
@with_appcontext
def check():
    """Check the settings and the form schema, and say where leads and mail go.

    Example: flask --app capture check
    """
    ext = _ext()
    url = ext.engine.url
    where = (f"SQLite at {url.database}" if url.get_backend_name() == "sqlite"
             else f"PostgreSQL at {url.host}/{url.database}")
    click.echo(f"Forms: {', '.join(ext.schema.forms)} (from {ext.settings.forms_path})")
    click.echo(f"Leads: stored in {where}")
    click.echo(f"Mail: {ext.settings.mail.describe()}")
    if ext.settings.site_dir:
        click.echo(f"Site: serving {ext.settings.site_dir}/")


@leads_cli.command("list")
@click.option("--limit", default=20, show_default=True, help="How many of the newest leads.")
@click.option("--include-spam", is_flag=True, help="Also list leads marked as spam.")
def leads_list(limit: int, include_spam: bool):
    """List the newest leads, one per line.

    Example: flask --app capture leads list --limit 5
    """
    query = select(leads.c.id, leads.c.received_at, leads.c.form_id, leads.c.name,
                   leads.c.email, leads.c.service, leads.c.spam)
    if not include_spam:
        query = query.where(leads.c.spam.is_(False))
    with _ext().engine.connect() as conn:
        rows = conn.execute(query.order_by(desc(leads.c.received_at)).limit(limit)).all()
    for row in rows:
        flag = " [spam]" if row.spam else ""
        click.echo(f"{row.id}  {row.received_at:%Y-%m-%d %H:%M}  {row.form_id:<12} "
                   f"{row.name or '-'} <{row.email or '-'}> {row.service or ''}{flag}")


@leads_cli.command("show")
@click.argument("lead_id")
def leads_show(lead_id: str):
    """Print one lead with every stored value, as JSON.

    Example: flask --app capture leads show 3q2Vx0dTqk9nT1bL6YpA
    """
    lead = store.get_lead(_ext().engine, lead_id)
    if lead is None:
        raise click.ClickException(f"no lead with id {lead_id}")
    click.echo(json.dumps(lead, indent=2, default=str, ensure_ascii=False))
