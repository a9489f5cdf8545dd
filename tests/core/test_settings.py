"""Settings: defaults, .env, the environment, and one clear line per bad value."""
import subprocess
import sys

import pytest

from capture import create_app
from capture.core.mail_url import parse_mail_url
from capture.core.setting_checks import ConfigError
from capture.core.settings import load_settings
from tests.conftest import ROOT, TEST_SECRET

BASE = {"secret_key": TEST_SECRET}


def test_defaults_match_the_readme():
    s = load_settings(BASE, environ={})
    assert s.database_url == "sqlite:///var/capture.db"
    assert (s.mail.scheme, s.mail.path) == ("file", "var/mail")
    assert str(s.forms_path) == "forms.yml"
    assert s.ratelimit == "10 per minute;100 per day"
    assert s.allowed_origins == frozenset()


def test_environment_beats_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAPTURE_DOTENV", "1")  # the tests turn .env off
    (tmp_path / ".env").write_text("CAPTURE_SECRET_KEY=from-dotenv-0123456789\nCAPTURE_TIMEZONE=Europe/Paris\n")
    s = load_settings(environ={"CAPTURE_TIMEZONE": "America/New_York"})
    assert s.secret_key == "from-dotenv-0123456789"
    assert str(s.timezone) == "America/New_York"


@pytest.mark.parametrize("name, value, message", [
    ("DATABASE_URL", "nonsense", "CAPTURE_DATABASE_URL: 'nonsense' is not a database URL"),
    ("DATABASE_URL", "mysql://x/y", "CAPTURE_DATABASE_URL: only sqlite"),
    ("DATABASE_URL", "postgresql://x/y", "CAPTURE_DATABASE_URL: use the psycopg 3 driver"),
    ("DATABASE_URL", "sqlite://", "CAPTURE_DATABASE_URL: an in-memory SQLite database"),
    ("MAIL_URL", "pigeon://loft", "CAPTURE_MAIL_URL: 'pigeon' is not a mail transport"),
    ("MAIL_URL", "smtp://", "CAPTURE_MAIL_URL: smtp:// needs a host"),
    ("MAIL_URL", "smtp://host:port", "CAPTURE_MAIL_URL: the port must be a number"),
    ("MAIL_URL", "file:", "CAPTURE_MAIL_URL: file: needs a folder"),
    ("MAIL_FROM", "nobody", "CAPTURE_MAIL_FROM: 'nobody' has no valid sender address"),
    ("SECRET_KEY", "", "CAPTURE_SECRET_KEY: not set"),
    ("SECRET_KEY", "short", "CAPTURE_SECRET_KEY: too short"),
    ("ALLOWED_ORIGINS", "www.example.com", "CAPTURE_ALLOWED_ORIGINS: 'www.example.com' is not an origin"),
    ("ALLOWED_ORIGINS", "https://a.example/path", "is not an origin"),
    ("RATELIMIT", "ten a minute", "CAPTURE_RATELIMIT: 'ten a minute' is not a limit"),
    ("RATELIMIT_STORAGE", "memcached://x", "CAPTURE_RATELIMIT_STORAGE: 'memcached://x'"),
    ("SITE_URL", "www.example.com", "CAPTURE_SITE_URL: 'www.example.com' is not an http(s) URL"),
    ("SITE_DIR", "/nonexistent", "CAPTURE_SITE_DIR: '/nonexistent' has no index.html"),
    ("SITE_PATHS", "/nonexistent.json", "CAPTURE_SITE_PATHS: cannot read '/nonexistent.json'"),
    ("VIEWS_NEW_LIMIT", "lots", "CAPTURE_VIEWS_NEW_LIMIT: 'lots' is not a limit"),
    ("VIEWS_NEW_LIMIT", "1 per minute;9 per day", "CAPTURE_VIEWS_NEW_LIMIT: '1 per minute;9 per day' is more than one"),
    ("TRUSTED_PROXIES", "one", "CAPTURE_TRUSTED_PROXIES: 'one' is not a whole number"),
    ("TIMEZONE", "Mars/Olympus", "CAPTURE_TIMEZONE: 'Mars/Olympus' is not a time zone"),
    ("EMBEDDED_WORKER", "sometimes", "CAPTURE_EMBEDDED_WORKER: 'sometimes' is not on/off"),
])
def test_each_bad_setting_names_itself(name, value, message):
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: value}, environ={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("url, expected", [
    ("smtp://127.0.0.1:1025", ("smtp", "127.0.0.1", 1025, "", "")),
    ("smtp+starttls://user%40x:p%3Ass@mail.example.com", ("smtp+starttls", "mail.example.com", 587, "user@x", "p:ss")),
    ("smtps://mail.example.com", ("smtps", "mail.example.com", 465, "", "")),
])
def test_smtp_urls(url, expected):
    m = parse_mail_url(url)
    assert (m.scheme, m.host, m.port, m.username, m.password) == expected
    assert "p:ss" not in m.describe()


@pytest.mark.parametrize("url, path", [("file:var/mail", "var/mail"), ("file:///srv/mail", "/srv/mail"),
                                       ("file:/srv/mail/", "/srv/mail")])
def test_file_urls_relative_and_absolute(url, path):
    assert parse_mail_url(url).path == path


def test_create_app_stops_with_one_line_and_code_4(capsys):
    with pytest.raises(SystemExit) as caught:
        create_app({"secret_key": TEST_SECRET, "ratelimit": "lots"})
    assert caught.value.code == 4
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "capture: CAPTURE_RATELIMIT: 'lots' is not a limit like '10 per minute;100 per day'"]


def test_a_broken_form_schema_stops_the_start(tmp_path, capsys):
    bad = tmp_path / "forms.yml"
    bad.write_text("forms:\n  contact:\n    thank_you: /t/\n    notify: {to: [a@fernleaf.example]}\n"
                   "    fields: [{name: x, type: colour}]\n")
    with pytest.raises(SystemExit):
        create_app({"secret_key": TEST_SECRET, "forms": str(bad)})
    assert "form 'contact' field 'x': unknown type 'colour'" in capsys.readouterr().err


def test_unreachable_database_names_the_setting(capsys):
    with pytest.raises(SystemExit):
        create_app({"secret_key": TEST_SECRET,
                    "database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"})
    err = capsys.readouterr().err.strip()
    assert err.startswith("capture: CAPTURE_DATABASE_URL: cannot prepare the database")
    assert len(err.splitlines()) == 1


@pytest.mark.slow
def test_gunicorn_reports_a_bad_setting_without_a_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CAPTURE_SECRET_KEY": TEST_SECRET, "CAPTURE_TIMEZONE": "Nowhere/Land",
           "CAPTURE_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "capture:create_app()"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "capture: CAPTURE_TIMEZONE: 'Nowhere/Land' is not a time zone name" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tests_never_read_a_developers_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CAPTURE_TIMEZONE=Europe/Paris\n")
    assert str(load_settings(BASE, environ={}).timezone) == "Europe/London"  # conftest: CAPTURE_DOTENV=0
    assert str(load_settings(BASE, environ={"CAPTURE_DOTENV": "1"}).timezone) == "Europe/Paris"


def test_a_misspelt_setting_is_reported_with_the_closest_name(capsys, make_app, monkeypatch):
    monkeypatch.setenv("CAPTURE_RATELIMT", "1 per day")
    monkeypatch.setenv("CAPTURE_NONSENSE_THING", "x")
    monkeypatch.setenv("CAPTURE_API_URL", "https://api.fernleaf.example")  # read by the site build
    make_app()
    lines = capsys.readouterr().err.splitlines()
    assert "capture: warning: CAPTURE_RATELIMT: not a setting, ignored; did you mean CAPTURE_RATELIMIT?" in lines
    assert "capture: warning: CAPTURE_NONSENSE_THING: not a setting, ignored" in lines
    assert not any("API_URL" in line or "DOTENV" in line for line in lines)


def test_the_sender_is_parsed_once():
    s = load_settings({**BASE, "mail_from": "Fernleaf Studio leads <Leads@Fernleaf.example>"}, environ={})
    assert (s.mail_from.display_name, s.mail_from.addr_spec, s.mail_from.domain) == \
        ("Fernleaf Studio leads", "Leads@Fernleaf.example", "Fernleaf.example")
    with pytest.raises(ConfigError, match="CAPTURE_MAIL_FROM"):
        load_settings({**BASE, "mail_from": "Fernleaf <not an address>"}, environ={})

