"""deploy/: the render step, the settings example, the systemd units, the gunicorn config.

The running topology is tested in tests/e2e/; these are the quick checks that
the files themselves say what the handbook (handbook/operations.md) says they say.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from capture.core.settings import DEFAULTS, load_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
TEMPLATES = {
    "fernleaf.conf.in": ("LISTEN", "SERVER_NAME", "SITE_ROOT", "API_UPSTREAM"),
    "fernleaf-static.conf.in": ("LISTEN", "SERVER_NAME", "SITE_ROOT", "API_ORIGIN"),
    "fernleaf-api.conf.in": ("LISTEN", "SERVER_NAME", "API_UPSTREAM"),
}


@pytest.fixture(scope="module")
def render():
    spec = importlib.util.spec_from_file_location("deploy_render", DEPLOY / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VALUES = {"LISTEN": "127.0.0.1:8080", "SERVER_NAME": "www.fernleaf.example",
          "SITE_ROOT": "/srv/fernleaf/site", "API_UPSTREAM": "127.0.0.1:8000",
          "API_ORIGIN": "https://api.fernleaf.example"}


# --- render.py -------------------------------------------------------------------

@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_render_fills_every_placeholder_and_keeps_nginx_variables(render, template):
    text = render.render(DEPLOY / "nginx" / template, {k: VALUES[k] for k in TEMPLATES[template]})
    assert "${" not in text and "@include" not in text
    assert f"listen {VALUES['LISTEN']};" in text
    assert "$fernleaf_api_origin" in text  # nginx's own variables are left alone


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_render_names_every_missing_value(render, template):
    with pytest.raises(render.RenderError) as caught:
        render.render(DEPLOY / "nginx" / template, {})
    assert f"no value for {', '.join(sorted(TEMPLATES[template]))}" in str(caught.value)


def test_split_static_site_may_post_to_the_api_origin(render):
    text = render.render(DEPLOY / "nginx" / "fernleaf-static.conf.in", VALUES)
    assert 'set $fernleaf_api_origin "https://api.fernleaf.example";' in text
    assert "/api/" not in text.split("server {", 1)[1]  # the static host proxies nothing


def test_every_location_repeats_the_security_headers(render):
    text = render.render(DEPLOY / "nginx" / "fernleaf.conf.in", VALUES)
    locations = text.split("location ")[1:]
    assert len(locations) == 3 + 4  # the site's three; the API, the desk (and its bare path), actions
    assert all("X-Content-Type-Options" in block for block in locations)
    for path in ("/api/", "/desk/", "/actions/"):
        block = next(b for b in locations if b.startswith(path + " "))
        assert "proxy_pass http://127.0.0.1:8000;" in block, path


@pytest.mark.parametrize("template", ["fernleaf.conf.in", "fernleaf-api.conf.in"])
def test_one_referrer_policy_per_answer_the_apps_on_its_own_pages(render, template):
    """The desk and one-click pages get the app's Referrer-Policy alone (two would both apply,
    and the looser one let the sign-in link out as a Referer); nginx's own answers get the site's."""
    text = render.render(DEPLOY / "nginx" / template, {k: VALUES[k] for k in TEMPLATES[template]})
    locations = {block.split("{", 1)[0].strip(): block for block in text.split("location ")[1:]}
    for path in ("/desk/", "/actions/"):
        assert "add_header Referrer-Policy" not in locations[path], path
        assert "add_header X-Frame-Options" not in locations[path], path  # the app's too
        assert locations[path].count("add_header X-Content-Type-Options") == 1, path
    assert locations["/api/"].count("add_header Referrer-Policy") == 1
    for header in ("Referrer-Policy", "X-Frame-Options"):
        assert all(block.count(f"add_header {header}") <= 1 for block in locations.values())


def test_render_command_line_writes_the_file(tmp_path):
    out = tmp_path / "fernleaf.conf"
    words = [f"{k}={VALUES[k]}" for k in TEMPLATES["fernleaf.conf.in"]]
    subprocess.run([sys.executable, str(DEPLOY / "render.py"), str(DEPLOY / "nginx" / "fernleaf.conf.in"),
                    "-o", str(out), *words], check=True, capture_output=True)
    assert "proxy_pass http://127.0.0.1:8000;" in out.read_text()


def test_render_command_line_refuses_a_bad_assignment():
    result = subprocess.run([sys.executable, str(DEPLOY / "render.py"),
                             str(DEPLOY / "nginx" / "fernleaf.conf.in"), "listen"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "'listen' is not NAME=VALUE" in result.stderr


# --- env.example -----------------------------------------------------------------

def test_env_example_documents_every_setting():
    documented = dotenv_values(DEPLOY / "env.example")
    missing = sorted(f"CAPTURE_{name}" for name in DEFAULTS if f"CAPTURE_{name}" not in documented)
    assert not missing, f"add these to deploy/env.example: {', '.join(missing)}"


def test_env_example_is_valid_once_the_secret_is_filled_in():
    values = {k: v for k, v in dotenv_values(DEPLOY / "env.example").items() if v is not None}
    settings = load_settings(environ={**values, "CAPTURE_SECRET_KEY": "x" * 32})
    assert settings.trusted_proxies == 1  # it sits behind nginx
    assert not settings.embedded_worker   # fernleaf-worker.service delivers


# --- systemd units and gunicorn ------------------------------------------------------

def unit(name: str) -> dict[str, str]:
    lines = (DEPLOY / "systemd" / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_units_run_from_the_checkout_with_the_env_file():
    for name in ("fernleaf-web.service", "fernleaf-worker.service", "fernleaf-inbound.service"):
        found = unit(name)
        assert found["WorkingDirectory"] == "/srv/fernleaf"
        assert found["EnvironmentFile"] == "/etc/fernleaf/capture.env"
        assert shlex.split(found["ExecStart"])[0].startswith("/srv/fernleaf/.venv/bin/")
    assert shlex.split(unit("fernleaf-web.service")["ExecStart"])[1:] == ["-c", "deploy/gunicorn.conf.py"]
    assert shlex.split(unit("fernleaf-worker.service")["ExecStart"])[1:] == ["--app", "capture", "worker"]
    assert shlex.split(unit("fernleaf-inbound.service")["ExecStart"])[1:] == [
        "--app", "capture", "inbound", "--host", "127.0.0.1", "--port", "2525"]


def test_gunicorn_config_loads_the_app(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")}
    env.update(CAPTURE_SECRET_KEY="x" * 32, CAPTURE_DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
               GUNICORN_BIND="127.0.0.1:0")
    result = subprocess.run([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--check-config"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_access_log_keeps_no_query_and_no_link_token(tmp_path):
    """gunicorn as deployed (deploy/gunicorn.conf.py): a desk search and link tokens never reach the log."""
    import urllib.request
    from tests.conftest import TEST_SECRET
    from tests.gunicorn_server import Gunicorn
    log = tmp_path / "access.log"
    env = {"CAPTURE_DATABASE_URL": f"sqlite:///{tmp_path / 'capture.db'}", "CAPTURE_SECRET_KEY": TEST_SECRET,
           "CAPTURE_MAIL_URL": f"file:{tmp_path / 'mail'}", "CAPTURE_EMBEDDED_WORKER": "0",
           "CAPTURE_DOTENV": "0", "WEB_CONCURRENCY": "1"}
    token = "WyJzZWNyZXQtdG9rZW4iXQ.aaaa.bbbb"
    with log.open("wb") as out:
        server = Gunicorn(env, workers=1, log=out, args=("-c", str(DEPLOY / "gunicorn.conf.py")))
        try:
            for path in ("/desk/?q=Zebedee+Quixote", f"/actions/{token}", f"/desk/sign-in/{token}",
                         f"/actions/booking/{token}"):
                try:
                    urllib.request.urlopen(server.url + path, timeout=5)
                except urllib.error.HTTPError:
                    pass  # a redirect to sign in, or a refused token: logged either way
        finally:
            server.stop()
    text = log.read_text()
    assert "/actions/[token]" in text and "/desk/sign-in/[token]" in text and '"GET /desk/ ' in text
    assert "/actions/[token]/[token]" in text  # a booking link: every segment after /actions/
    assert "Zebedee" not in text and "Quixote" not in text and token not in text and "secret" not in text


@pytest.mark.parametrize("path, logged", [
    ("/actions/abc.def", "/actions/[token]"),
    ("/actions/booking/abc.def", "/actions/[token]/[token]"),
    ("/actions/booking/abc.def/extra", "/actions/[token]/[token]/[token]"),
    ("/desk/sign-in/abc.def", "/desk/sign-in/[token]"),
    ("/desk/leads/0190", "/desk/leads/0190"),
    ("/api/forms/contact", "/api/forms/contact"),
    ("/actionsX/abc", "/actionsX/abc"),
])
def test_every_segment_after_a_link_prefix_is_redacted(path, logged):
    from capture.ops.accesslog import redact
    assert redact(path) == logged
