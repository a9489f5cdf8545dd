"""The nginx templates of deploy/ and the handbook's render commands give configs nginx accepts."""
from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from e2e_stack import DEPLOY, Nginx, render


@pytest.mark.parametrize("template", ["fernleaf.conf.in", "fernleaf-static.conf.in", "fernleaf-api.conf.in"])
def test_rendered_template_passes_nginx_t(template, tmp_path, nginx_installed):
    values = {"LISTEN": "127.0.0.1:8080", "SERVER_NAME": "www.fernleaf.example", "SITE_ROOT": str(tmp_path),
              "API_UPSTREAM": "127.0.0.1:8000", "API_ORIGIN": "https://api.fernleaf.example"}
    (tmp_path / "sites-enabled").mkdir()
    (tmp_path / "temp").mkdir()
    (tmp_path / "sites-enabled" / "site.conf").write_text(render.render(DEPLOY / "nginx" / template, values))
    (tmp_path / "nginx.conf").write_text(Nginx.main_conf(tmp_path))
    result = subprocess.run([nginx_installed, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def readme_render_commands() -> list[list[str]]:
    """The `python3 deploy/render.py ...` commands of the handbook's Deploy section, as argv lists."""
    text = (DEPLOY.parent / "handbook" / "operations.md").read_text()
    section = text.split("<!-- section: deploy -->", 1)[1].split("<!-- /section: deploy -->", 1)[0]
    joined = section.replace("\\\n", " ")
    return [shlex.split(line.strip()) for line in joined.splitlines()
            if line.strip().startswith("python3 deploy/render.py")]


def test_readme_render_commands_make_configs_nginx_accepts(tmp_path, nginx_installed):
    commands = readme_render_commands()
    assert len(commands) == 3  # one server, the API subdomain, an own static host
    (tmp_path / "sites-enabled").mkdir()
    (tmp_path / "temp").mkdir()
    for index, argv in enumerate(commands):
        out = argv.index("-o") + 1
        argv[out] = str(tmp_path / "sites-enabled" / f"{index}.conf")
        subprocess.run([sys.executable, *argv[1:]], cwd=DEPLOY.parent, check=True, capture_output=True)
    (tmp_path / "nginx.conf").write_text(Nginx.main_conf(tmp_path))
    result = subprocess.run([nginx_installed, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
