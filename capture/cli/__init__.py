"""The operator's commands (flask --app capture ...), one module per command group."""
from __future__ import annotations

from flask import Flask

from capture.cli import database, digest, leads, outbox, privacy, report, worker

# The `leads` group also holds marketing's export and sources and the erasure request.
LEADS_ELSEWHERE = (report.leads_export, report.leads_sources, privacy.leads_erase)
COMMANDS = (database.db_cli, leads.leads_cli, database.check, outbox.outbox_cli, worker.worker,
            report.report, digest.digest_command)


def init_app(app: Flask) -> None:
    """Attach every command and command group to the app's CLI."""
    for command in LEADS_ELSEWHERE:
        leads.leads_cli.add_command(command)
    for command in COMMANDS:
        app.cli.add_command(command)
