"""The built site's page around the booking pages (capture/core/site_shell.py)."""
from __future__ import annotations

import os
import re

from capture.core import site_shell
from tests.test_site import site  # noqa: F401  (fixture: the site built once per session)
from tests.booking.test_manage_pages import BUILT_404


def test_the_real_build_is_cut_around_its_content(site):  # noqa: F811
    shell = site_shell.load(site)
    assert shell is not None and shell.has_script
    assert re.search(r'<link rel="stylesheet" href="/assets/stylesheets/main\.[0-9a-f]{8}\.min\.css">', shell.head)
    assert 'href="/assets/stylesheets/site.css"' in shell.head
    assert "<title>" not in shell.head and 'name="robots"' not in shell.head and 'name="description"' not in shell.head
    assert '<header class="md-header"' in shell.top and shell.top.startswith("</head>")
    assert shell.top.rstrip().endswith('<article class="md-content__inner md-typeset">')
    assert shell.bottom.startswith("</article>") and 'class="md-footer"' in shell.bottom
    assert "Sorry, we cannot find that page" not in shell.top + shell.bottom


def test_no_site_no_page_or_a_page_it_cannot_cut_gives_the_plain_look(tmp_path, caplog):
    assert site_shell.load(None) is None
    assert site_shell.load(tmp_path) is None  # no 404.html
    (tmp_path / "404.html").write_text("<html><head></head><body><h1>Not found</h1></body></html>")
    assert site_shell.load(tmp_path) is None
    assert "using the plain look" in caplog.text


def test_a_rebuilt_site_is_read_again(tmp_path):
    page = tmp_path / "404.html"
    page.write_text(BUILT_404)
    assert "main.57a0d79d.min.css" in site_shell.load(tmp_path).head
    page.write_text(BUILT_404.replace("57a0d79d", "0badcafe"))
    stamp = page.stat().st_mtime_ns + 1_000_000_000
    os.utime(page, ns=(stamp, stamp))
    assert "main.0badcafe.min.css" in site_shell.load(tmp_path).head
