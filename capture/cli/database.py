"""`db upgrade` and `check`: the schema and the settings, before anything else runs."""
from __future__ import annotations

from urllib.parse import urlsplit

import click
from flask.cli import AppGroup, with_appcontext

from capture.context import current
from capture.core.setting_checks import ConfigError
from capture.delivery import webhooks
from capture.cli.terminal import echo
from capture.db.migrate import migrate
from capture.core import urls

db_cli = AppGroup("db", help="Database schema commands.")


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
