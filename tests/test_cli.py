"""Operator commands: they work, and every one of them is in the README."""
import json

import click

from tests.conftest import ROOT


def all_commands(group: click.Group, prefix: str = ""):
    """Every leaf command as 'group sub' paths."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


def test_every_command_is_documented_in_the_readme(app):
    readme = (ROOT / "README.md").read_text()
    ours = [c for c in all_commands(app.cli) if c.split()[0] not in ("run", "shell", "routes")]
    assert ours, "no commands registered"
    missing = [c for c in ours if f"flask --app capture {c}" not in readme]
    assert missing == []


def test_every_command_has_help_with_an_example(app):
    for path in all_commands(app.cli):
        if path.split()[0] in ("run", "shell", "routes"):
            continue
        command = app.cli
        for part in path.split():
            command = command.commands[part]
        assert "Example: flask --app capture" in (command.help or ""), path


def test_db_upgrade_and_check(app):
    runner = app.test_cli_runner()
    assert "up to date" in runner.invoke(args=["db", "upgrade"]).output
    out = runner.invoke(args=["check"]).output
    assert "Forms: consultation, contact" in out and "Leads: stored in" in out
    assert "Mail: written as .eml files to" in out


def test_leads_list_and_show(app, client, consultation):
    lead_id = client.post("/api/forms/consultation", json=consultation).json["id"]
    client.post("/api/forms/consultation", json={**consultation, "fax": "bot", "name": "Spam Bot"})
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["leads", "list"]).output
    assert lead_id in listed and "Ada Lovelace" in listed and "Spam Bot" not in listed
    assert "Spam Bot" in runner.invoke(args=["leads", "list", "--include-spam"]).output
    shown = json.loads(runner.invoke(args=["leads", "show", lead_id]).output)
    assert shown["company"] == "Analytical Engines Ltd"
    missing = runner.invoke(args=["leads", "show", "nope"])
    assert missing.exit_code == 1 and "no lead with id nope" in missing.output
