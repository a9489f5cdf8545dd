"""The site's page titles read from the built site (capture/core/page_titles.py), for the report's rows."""
from __future__ import annotations

import json
import os

import yaml

from capture.core import page_titles, sitepaths
from capture.core.paths import ROOT
from tests.test_site import site  # noqa: F401  (fixture: the site built once per session)


def front_matter_title(page: str) -> str:
    return yaml.safe_load((ROOT / "docs" / page).read_text().split("---")[1])["title"]


def test_the_real_build_gives_the_pages_own_titles(site):  # noqa: F811
    found = page_titles.titles(site)
    assert found["/services/"] == front_matter_title("services/index.md") == "Website packages and prices"
    assert found["/blog/fast-websites/"] == front_matter_title("blog/posts/fast-websites.md")
    assert not any(title.endswith(" - Fernleaf Studio") for title in found.values())
    assert set(found) <= set(json.loads((site / sitepaths.FILE_NAME).read_text())["pages"])


def built(tmp, pages: dict[str, str]) -> None:
    """A tiny built site: {path: head html}, and its page list."""
    for path, head in pages.items():
        target = tmp / path.lstrip("/") / "index.html" if path.endswith("/") else tmp / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"<!doctype html><html><head>{head}</head><body></body></html>")
    (tmp / sitepaths.FILE_NAME).write_text(json.dumps({"pages": sorted(pages) + ["/gone/"]}))


def test_og_title_first_then_the_title_then_the_path(tmp_path):
    built(tmp_path, {"/": '<title>Home - Studio</title><meta property="og:title" content="Home &amp; more">',
                     "/about/": "<title>\n  About   us </title>", "/plain.html": "<meta charset=utf-8>"})
    found = page_titles.titles(tmp_path)
    assert found == {"/": "Home & more", "/about/": "About us"}  # /gone/ has no file, /plain.html no title
    assert page_titles.title_of("/plain.html", found) == "/plain.html"
    assert page_titles.title_of("/about/", found) == "About us"


def test_no_site_or_no_list_means_no_titles(tmp_path):
    assert page_titles.titles(None) == {}
    assert page_titles.titles(tmp_path) == {}
    (tmp_path / sitepaths.FILE_NAME).write_text("not json")
    assert page_titles.titles(tmp_path) == {}


def test_a_rebuilt_site_is_read_again(tmp_path):
    built(tmp_path, {"/": "<title>Old</title>"})
    assert page_titles.titles(tmp_path) == {"/": "Old"}
    built(tmp_path, {"/": "<title>New</title>"})
    listed = tmp_path / sitepaths.FILE_NAME
    stamp = listed.stat().st_mtime_ns + 1_000_000_000
    os.utime(listed, ns=(stamp, stamp))
    assert page_titles.titles(tmp_path) == {"/": "New"}
