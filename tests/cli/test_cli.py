"""Operator commands: they work, and every one of them is in the handbook's command-line reference."""
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest

from tests.conftest import ROOT


def all_commands(group: click.Group, prefix: str = ""):
    """Every leaf command as 'group sub' paths."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


def test_every_command_is_documented_in_the_cli_reference(app):
    readme = (ROOT / "handbook" / "reference" / "cli.md").read_text()
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
    assert "Links in emails: http://" in out
    assert "Page views: stored for any path (no list of the site's pages" in out


def make_serve_check(tmp_path: Path, **env) -> str:
    """What `make serve` prints before serving: its `check` line of `make -n serve`, run by sh.

    The line runs as make would run it, with this virtualenv's tools, in a scratch folder
    holding a built site (the secret, the database and the mail folder are the test's).
    """
    dry = subprocess.run(["make", "-n", "serve", f"BIN={Path(sys.executable).parent}"], cwd=ROOT,
                         env={**os.environ, **env}, capture_output=True, text=True, check=True)
    lines = dry.stdout.replace("\\\n", " ").splitlines()
    check = next(line for line in lines if "--app capture check" in line)
    (tmp_path / "site").mkdir(exist_ok=True)
    (tmp_path / "site/index.html").write_text("<!doctype html>")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")}
    run_env = {**clean, **env, "PYTHONPATH": str(ROOT), "CAPTURE_SECRET_KEY": "k" * 32,
               "CAPTURE_FORMS": str(ROOT / "forms.yml"), "CAPTURE_SALES": str(ROOT / "sales.yml"),
               "CAPTURE_DATABASE_URL": f"sqlite:///{tmp_path / 'capture.db'}",
               "CAPTURE_MAIL_URL": f"file:{tmp_path / 'mail'}"}
    done = subprocess.run(["sh", "-c", check.lstrip("@")], cwd=tmp_path, env=run_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("env, links", [
    ({}, "http://127.0.0.1:8000/"),
    ({"PORT": "9000"}, "http://127.0.0.1:9000/"),
    ({"PORT": "9000", "CAPTURE_PUBLIC_URL": "https://desk.example"}, "https://desk.example/"),
])
def test_make_serve_links_follow_its_port(tmp_path, env, links):
    """`PORT=9000 make serve` mails links to port 9000, unless CAPTURE_PUBLIC_URL names another."""
    assert f"Links in emails: {links}\n" in make_serve_check(tmp_path, **env)


def test_leads_list_and_show(app, client, consultation):
    assert app.test_cli_runner().invoke(args=["leads", "list"]).output == "No leads yet.\n"
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


def test_export_is_csv_a_spreadsheet_cannot_be_tricked_by(app, client, consultation, tmp_path):
    import csv
    client.post("/api/forms/consultation", json={**consultation, "company": "=HYPERLINK(\"http://x\")",
                                                 "first_utm_campaign": "spring"})
    client.post("/api/forms/contact", json={"name": "Grace", "email": "grace@navy.example.com",
                                            "message": "Hi, \"quotes\", commas\nand lines", "consent": True})
    client.post("/api/forms/contact", json={"name": "Bot", "email": "b@bot.example.com",
                                            "message": "x", "consent": True, "fax": "1"})
    out = tmp_path / "leads.csv"
    result = app.test_cli_runner().invoke(args=["leads", "export", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["name"] for r in rows] == ["Ada Lovelace", "Grace"]
    assert rows[0]["company"] == "'=HYPERLINK(\"http://x\")"
    assert rows[0]["first_utm_campaign"] == "spring" and rows[0]["service"] == "ecommerce"
    assert rows[1]["message"] == "Hi, \"quotes\", commas\nand lines"
    assert rows[0]["received_at"].endswith("+00:00")


def test_sources_counts_leads_by_campaign(app, client, consultation):
    for campaign in ("spring", "spring", "autumn", None):
        extra = {"first_utm_campaign": campaign} if campaign else {}
        client.post("/api/forms/consultation", json={**consultation, **extra})
    out = app.test_cli_runner().invoke(args=["leads", "sources", "--by", "campaign"]).output
    lines = [line.split() for line in out.strip().splitlines()]
    assert lines[0] == ["spring", "2"]
    assert dict(lines) == {"spring": "2", "autumn": "1", "(none)": "1"}


UNSAFE = "Ada\x1b[2J\u202eecalevoL\u200b\x85\u2028\ud800"


def test_stored_text_reaches_the_terminal_harmless(app, client, consultation):
    """Rows written before today's checks, or by hand: escapes and bidi overrides show as escapes."""
    from sqlalchemy import update
    from capture.db.models import leads
    lead_id = client.post("/api/forms/consultation", json=consultation).json["id"]
    with app.extensions["capture"].engine.begin() as conn:
        conn.execute(update(leads).values(name=UNSAFE.replace("\ud800", ""), first_utm_campaign=UNSAFE[:12],
                                          data={**consultation, "message": UNSAFE.replace("\ud800", "")}))
    runner = app.test_cli_runner()
    outputs = [runner.invoke(args=args).output for args in
               (["leads", "list"], ["leads", "show", lead_id], ["leads", "sources", "--by", "campaign"])]
    for out in outputs:
        assert not any(ch in out for ch in "\x1b\u202e\u200b\x85\u2028"), repr(out)
        assert "\\u001b[2J\\u202eecal" in out
    assert json.loads(outputs[1])["id"] == lead_id  # still valid JSON


def test_terminal_safe_keeps_ordinary_text():
    from capture.cli.terminal import terminal_safe
    text = "Zoë Ångström — 山田 <zoe@example.com>\nnext line"
    assert terminal_safe(text) == text
    assert terminal_safe("\ud800\t") == "\\ud800\\u0009"


# --- the pipeline from a terminal ----------------------------------------------------------

def test_a_lead_moves_through_the_pipeline_from_the_command_line(app, client, clock, consultation):
    runner = app.test_cli_runner()
    clock.set(datetime(2026, 12, 9, 17, 0, tzinfo=timezone.utc))  # Wednesday, half an hour before closing
    lead_id = client.post("/api/forms/consultation", json=consultation).json["id"]
    by = ["--by", "tom@fernleaf.example"]
    clock.set(datetime(2026, 12, 10, 9, 45, tzinfo=timezone.utc))  # Thursday, 45 minutes after opening
    assert "is now contacted" in runner.invoke(args=["leads", "status", lead_id, "contacted", *by]).output
    assert "already was contacted" in runner.invoke(args=["leads", "status", lead_id, "contacted", *by]).output
    refused = runner.invoke(args=["leads", "status", lead_id, "won", *by])
    assert refused.exit_code == 1 and "needs its deal value" in refused.output
    assert runner.invoke(args=["leads", "status", lead_id, "won", "--value", "8,500", *by]).exit_code == 0
    assert runner.invoke(args=["leads", "note", lead_id, "Deposit paid", *by]).exit_code == 0
    assert "is now tom@fernleaf.example's" in runner.invoke(args=["leads", "assign", lead_id, "tom@fernleaf.example"]).output
    stranger = runner.invoke(args=["leads", "note", lead_id, "x", "--by", "someone@example.com"])
    assert stranger.exit_code == 1 and "not on the team" in stranger.output
    shown = json.loads(runner.invoke(args=["leads", "show", lead_id]).output)
    assert (shown["status"], shown["value"], shown["owner"]) == ("won", "£8,500", "tom@fernleaf.example")
    assert shown["first_contact_at"].startswith("2026-12-10 09:45")
    # 30 working minutes on Wednesday and 45 on Thursday (sales.yml: mon-fri 09:00-17:30, London = UTC in December).
    assert shown["response"] == {"waiting": False, "self_booked": False, "wall_minutes": 1005.0,
                                 "working_minutes": 75.0, "overdue": True}
    assert [(e["kind"], e["to_status"]) for e in shown["events"]] == [
        ("status", "contacted"), ("status", "won"), ("note", None), ("assign", None)]
    missing = runner.invoke(args=["leads", "status", "nope", "contacted"])
    assert missing.exit_code == 1 and "There is no lead nope" in missing.output


def test_leads_list_filters_by_status_owner_and_overdue(app, client, consultation):
    from datetime import timedelta
    from sqlalchemy import update
    from capture.core.clock import utcnow
    from capture.db.models import leads
    first = client.post("/api/forms/consultation", json={**consultation, "name": "First One"}).json["id"]
    client.post("/api/forms/consultation", json={**consultation, "name": "Second One"})  # Tom's
    with app.extensions["capture"].engine.begin() as conn:
        conn.execute(update(leads).where(leads.c.id == first).values(respond_by=utcnow() - timedelta(minutes=5)))
    runner = app.test_cli_runner()
    mine = runner.invoke(args=["leads", "list", "--owner", "tom@fernleaf.example"]).output
    assert "Second One" in mine and "First One" not in mine
    overdue = runner.invoke(args=["leads", "list", "--overdue"]).output
    assert "First One" in overdue and "[overdue]" in overdue and "Second One" not in overdue
    assert runner.invoke(args=["leads", "list", "--status", "won"]).output == "No leads match.\n"
