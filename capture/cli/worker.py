"""`worker`: deliver the outbox until stopped, or once."""
from __future__ import annotations

import signal
import threading

import click
from flask.cli import with_appcontext

from capture.context import current
from capture.core.setting_checks import ConfigError
from capture.delivery import webhooks
from capture.delivery.worker import Worker, start_threads, stop_threads
from capture.cli.terminal import echo


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
