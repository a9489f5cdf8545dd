"""`digest`: preview the weekly digest or queue it now."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from capture.context import current
from capture.core.clock import utcnow
from capture.core.paths import TEMPLATES
from capture.delivery import mail
from capture.reports import digest
from capture.cli.terminal import echo
from capture.core import urls
from capture.delivery.registry import Kind


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
