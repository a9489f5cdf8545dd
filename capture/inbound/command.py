"""`inbound`: the SMTP service that takes replies to the leads' reply addresses."""
from __future__ import annotations

import signal
import threading

import click
from flask.cli import with_appcontext

from capture.context import current
from capture.inbound.server import MAX_SIZE, controller


@click.command("inbound")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0 when the MX points straight at this server).")
@click.option("--port", type=click.IntRange(1, 65535), default=2525, show_default=True,
              help="The port to listen on (25 behind a firewall rule or a relay that forwards to it).")
@click.option("--max-size", type=click.IntRange(1024), default=MAX_SIZE, show_default=True,
              help="The largest message taken, in bytes; larger ones are refused (552).")
@with_appcontext
def inbound(host: str, port: int, max_size: int):
    """Receive replies by SMTP for the leads' reply addresses until stopped (SIGTERM or Ctrl+C).

    Takes mail only for lead+<token>@CAPTURE_REPLY_DOMAIN addresses of known leads and refuses
    everything else at RCPT (550): it is not a relay. Each message is stored with its event on
    the lead before it is answered 250; a copy of a message already stored is stored once.

    Example: flask --app capture inbound --host 127.0.0.1 --port 2525
    """
    ext = current()
    if not ext.settings.reply_domain:
        raise click.ClickException("CAPTURE_REPLY_DOMAIN is not set: there are no reply addresses to take mail for")
    server = controller(ext, host, port, max_size)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server.start()
    click.echo(f"Inbound mail for @{ext.settings.reply_domain} on {host}:{port} (Ctrl+C stops)")
    try:
        stopping.wait()
    finally:
        server.stop()
    click.echo("Inbound mail stopped.")
