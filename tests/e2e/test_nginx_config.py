"""Every nginx template in deploy/ renders to a config Debian's nginx accepts (nginx -t)."""
from __future__ import annotations

import subprocess

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
