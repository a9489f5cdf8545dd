"""The site built with Zensical, the successor to Material for MkDocs (end of life 2027-05-05).

Production still builds with MkDocs (`make site`, tests/test_site.py). This module builds a
copy of the project with `zensical build --strict` into a temporary folder and runs the
checks that matter to visitors, reusing tests/test_site.py's helpers and checks: every
page, the forms against forms.yml, the blog, the feed, the sitemap, nothing from another host.

A Zensical gap that stops the whole build is listed in BUILD_GAPS: the copy is edited just
enough to get past it (each edit must still match our file, or the fixture fails), and the
gap's own test builds without that one edit, expecting failure. The visitor checks that a
gap (or a missing feature that only changes the output) breaks are expected failures naming
it. All are strict: the day Zensical supports a feature, its test fails as XPASS, which
means: drop the edit or the mark.

Without the zensical package the module is skipped; with CAPTURE_REQUIRE_SERVICES=1 (CI)
it fails instead.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import yaml

from tests import test_site as mk
from tests.site import test_chrome as chrome
from tests.conftest import need_service

try:
    VERSION = importlib.metadata.version("zensical")
except importlib.metadata.PackageNotFoundError:
    VERSION = "(not installed)"
ZENSICAL = f"Zensical {VERSION}"


def xfail(reason: str):
    """An expected failure of a check's assertion (an error of any other kind still fails)."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"{ZENSICAL}: {reason}")


# --- gaps that stop the build ------------------------------------------------------------

@dataclass(frozen=True)
class Gap:
    """A feature the site uses that Zensical lacks, and how the build copy steps around it."""
    id: str
    reason: str
    signature: str                                  # in the build's error when this gap stops it
    edits: tuple[tuple[str, str, str | None], ...]  # (file, text, replacement); None: delete file

    def apply(self, project: Path) -> None:
        for name, old, new in self.edits:
            path = project / name
            text = path.read_text(encoding="utf-8")
            if old not in text:
                pytest.fail(f"{name} no longer contains {old!r}: update gap {self.id!r} "
                            "in tests/test_zensical.py (or drop it, if the site no longer needs it)")
            if new is None:
                path.unlink()
            else:
                path.write_text(text.replace(old, new), encoding="utf-8")


MACROS_PAGE_FILE = Gap(
    "macros-page-file",
    "the mkdocs-macros compatibility gives macros an env.page without .file "
    "(capture/sitebuild.py page_of() reads page.file.src_uri), so every {{ form() }} and "
    "{{ price() }} marker raises",
    "'Page' object has no attribute 'file'",
    (("capture/sitebuild.py", 'return page.file.src_uri if page else "a page"',
      'return page.path if page else "a page"'),))
STR_FORMAT = Gap(
    "str-format",
    "theme templates run on MiniJinja, which has no Python str.format() "
    "(home.html and 404.html print package prices with \"{:,}\".format)",
    "has no method named format",
    tuple((name, '"{:,}".format(pkg.price_from)', "pkg.price_from")
          for name in ("templates/site/home.html", "templates/site/404.html")))
TEMPLATE_PAGE_FILE = Gap(
    "template-page-file",
    "theme templates get no page.file (main.html tells blog posts apart by "
    "page.file.src_uri, for og:type and the BlogPosting JSON-LD)",
    "(in main.html:",
    (("templates/site/main.html", 'and page.file.src_uri.startswith("blog/posts/")',
      'and page.file is defined and page.file.src_uri.startswith("blog/posts/")'),))
SITEMAP_PAGES = Gap(
    "sitemap-override",
    "the sitemap.xml override gets Zensical pages as `pages`, not MkDocs File objects "
    "(file.page is undefined), so the override that leaves out noindex pages cannot run",
    "(in sitemap.xml:",
    (("templates/site/sitemap.xml", "file.page", None),))
PAGINATION = Gap(
    "pagination-override",
    "Material's pagination() helper, which the blog's partials/pagination.html override calls, "
    "does not exist",
    "(in partials/pagination.html:",
    (("templates/site/partials/pagination.html", "pagination(", None),))
BUILD_GAPS = (MACROS_PAGE_FILE, STR_FORMAT, TEMPLATE_PAGE_FILE, SITEMAP_PAGES, PAGINATION)


def zensical_build(project: Path) -> subprocess.CompletedProcess:
    """`zensical build --strict` of a project copy; it writes to the copy's site/."""
    return subprocess.run([sys.executable, "-m", "zensical", "build", "--strict",
                           "--config-file", str(project / "mkdocs.yml")],
                          cwd=project, env=mk.build_env(NO_COLOR="1"), capture_output=True,
                          text=True, timeout=240)


def project_copy(dest: Path, skip: Gap | None = None) -> Path:
    """The project's site sources copied into `dest`, every build gap but `skip` stepped around."""
    project = mk.copy_project(dest)
    for gap in BUILD_GAPS:
        if gap is not skip:
            gap.apply(project)
    return project


@pytest.fixture(scope="module")
def zensical():
    """Zensical is installed and runs (a skip locally, a failure in CI, when not)."""
    if importlib.util.find_spec("zensical") is None:
        need_service("zensical is not installed (pip install -r requirements-test.txt)")
    result = subprocess.run([sys.executable, "-m", "zensical", "--version"],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        need_service(f"zensical does not run: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


@pytest.fixture(scope="module")
def zsite(zensical, tmp_path_factory) -> Path:
    """The site, every build gap stepped around, built strictly by Zensical once for this module."""
    project = project_copy(tmp_path_factory.mktemp("zensical") / "site")
    result = zensical_build(project)
    if result.returncode != 0:
        pytest.fail(f"zensical build failed:\n{result.stderr[-4000:]}")
    return project / "site"


@pytest.fixture(scope="module")
def gap_builds(zensical, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """One build per gap, without that gap's edit, side by side: {gap id: result}."""
    root = tmp_path_factory.mktemp("zensical-gaps")
    projects = [project_copy(root / gap.id, skip=gap) for gap in BUILD_GAPS]
    with ThreadPoolExecutor(max_workers=min(len(projects), os.cpu_count() or 1)) as pool:
        return dict(zip((gap.id for gap in BUILD_GAPS), pool.map(zensical_build, projects)))


@pytest.mark.parametrize("gap", [pytest.param(g, marks=xfail(g.reason), id=g.id)
                                 for g in BUILD_GAPS])
def test_build_without_stepping_around(gap_builds, gap):
    result = gap_builds[gap.id]
    if result.returncode != 0 and gap.signature not in result.stderr:
        pytest.fail(f"the build failed, but not on {gap.id}:\n{result.stderr[-3000:]}")
    assert result.returncode == 0, result.stderr[-3000:]


# --- pages ---------------------------------------------------------------------------------

def links(site: Path, rel: str) -> set[str]:
    """Every <a href> on a page, as an absolute URL (Zensical writes ./x/ where MkDocs writes x/)."""
    base = mk.SITE_URL + rel.removesuffix("index.html")
    return {urljoin(base, a["href"]) for a in mk.page(site, rel).find("a", href=None)}


@pytest.mark.parametrize("rel", mk.PAGES)
def test_page_exists(zsite, rel):
    mk.test_page_exists(zsite, rel)


def test_posts_categories_and_authors(zsite):
    mk.test_every_post_and_category_has_a_page_and_posts_name_their_authors(zsite)


def test_each_form_has_its_thank_you_page(zsite):
    mk.test_each_form_has_its_thank_you_page(zsite)


def test_home_is_a_landing_page(zsite):
    html = (zsite / "index.html").read_text(encoding="utf-8")
    assert "fl-hero" in html and "Book a free consultation" in html
    assert mk.SITE_URL + "consultation/" in links(zsite, "index.html")
    for pkg in mk.PACKAGES.values():
        assert mk.SITE_URL + pkg["url"] in links(zsite, "index.html"), pkg["id"]


@xfail(STR_FORMAT.reason)
def test_home_cards_and_404_page_show_prices_as_written(zsite):
    home = (zsite / "index.html").read_text(encoding="utf-8")
    not_found = (zsite / "404.html").read_text(encoding="utf-8")
    for pkg in mk.PACKAGES.values():
        price = f"£{int(pkg['price_from']):,}"
        assert f"from <strong>{price}</strong>" in home, pkg["id"]
        assert f"from {price}" in not_found, pkg["id"]


# --- an agency's chrome (tests/site/test_chrome.py) ---------------------------------------------

@pytest.mark.parametrize("rel", chrome.MARKETING)
def test_marketing_pages_have_no_pager_and_no_table_of_contents(zsite, rel):
    chrome.test_marketing_pages_have_no_pager_and_no_table_of_contents(zsite, rel)


@pytest.mark.parametrize("rel", ["index.html", "services/starter-site/index.html", "blog/index.html"])
def test_phone_menu_opens_at_the_top_level(zsite, rel):
    chrome.test_phone_menu_opens_at_the_top_level(zsite, rel)


def test_every_page_has_book_a_consultation_in_its_header(zsite):
    chrome.test_every_page_has_book_a_consultation_in_its_header(zsite)


def test_dates_are_uk_dates_everywhere(zsite):
    chrome.test_dates_are_uk_dates_everywhere(zsite)


@pytest.mark.parametrize("rel, cards", [("index.html", 3), ("about/index.html", 4)])
def test_work_cards_have_decorative_inline_illustrations(zsite, rel, cards):
    chrome.test_work_cards_have_decorative_inline_illustrations(zsite, rel, cards)


# --- forms from forms.yml ----------------------------------------------------------------------

@pytest.mark.parametrize("rel, form_id, presets", mk.FORM_PAGES)
def test_form_matches_the_schema(zsite, rel, form_id, presets):
    mk.test_form_matches_the_schema(zsite, rel, form_id, presets)


@pytest.mark.parametrize("rel, form_id, presets", mk.FORM_PAGES[:2])
def test_select_options_are_the_schema_choices(zsite, rel, form_id, presets):
    mk.test_select_options_are_the_schema_choices(zsite, rel, form_id, presets)


def test_forms_script_is_loaded_everywhere(zsite):
    mk.test_forms_script_is_loaded_everywhere(zsite)


def test_no_theme_javascript_is_loaded(zsite):
    for path in mk.html_pages(zsite):
        scripts = [a["src"] for a in mk.Page(path.read_text(encoding="utf-8")).find("script", src=None)]
        assert [s.rsplit("/", 1)[-1] for s in scripts] == ["forms.js"], (path, scripts)


# --- the blog and its feed ---------------------------------------------------------------------

def test_blog_index_links_every_post(zsite):
    found = links(zsite, "blog/index.html")
    for post in mk.POSTS:
        slug = yaml.safe_load(post.read_text().split("---")[1])["slug"]
        assert f"{mk.SITE_URL}blog/{slug}/" in found, slug


def test_posts_have_reading_time_and_a_call_to_action(zsite):
    mk.test_posts_are_substantial_with_reading_time_and_a_call_to_action(zsite)


def test_feed_has_every_post_with_its_front_matter_date(zsite):
    mk.test_rss_feed_has_every_post_with_its_front_matter_date(zsite)


@xfail("its theme does not link the mkdocs-rss-plugin feeds from <head> "
       "(<link rel=alternate type=application/rss+xml>), as Material's base.html does")
def test_feed_is_advertised(zsite):
    mk.test_feed_is_advertised(zsite)


# --- search engines -----------------------------------------------------------------------------

@xfail(SITEMAP_PAGES.reason + ": the thank-you pages are listed")
def test_sitemap_lists_the_pages(zsite):
    mk.test_sitemap_lists_the_pages(zsite)


@xfail("theme.static_templates is replaced by its own [404.html, sitemap.xml], so robots.txt "
       "is copied from templates/site unrendered (Sitemap: {{ config.site_url }}sitemap.xml)")
def test_robots_txt_points_at_the_sitemap(zsite):
    mk.test_robots_txt_points_at_the_sitemap(zsite)


@pytest.mark.parametrize("rel", mk.CONTENT_PAGES)
def test_page_has_description_sharing_tags_and_canonical(zsite, rel):
    mk.test_page_has_description_sharing_tags_and_canonical(zsite, rel)


def one_jsonld(site: Path, rel: str) -> None:
    blocks = mk.page(site, rel).jsonld
    assert len(blocks) == 1, f"{rel}: {len(blocks)} JSON-LD blocks"


@xfail("theme templates get no page.is_homepage, so main.html writes no business JSON-LD "
       "on the home page")
def test_home_describes_the_business(zsite):
    one_jsonld(zsite, "index.html")
    mk.test_home_describes_the_business(zsite)


@pytest.mark.parametrize("package", ["starter", "business", "ecommerce"])
def test_service_pages_describe_the_service(zsite, package):
    mk.test_service_pages_describe_the_service(zsite, package)


@xfail(TEMPLATE_PAGE_FILE.reason)
def test_posts_are_blog_postings(zsite):
    for post in mk.POSTS:
        slug = yaml.safe_load(post.read_text().split("---")[1])["slug"]
        one_jsonld(zsite, f"blog/{slug}/index.html")
    mk.test_posts_are_blog_postings(zsite)


def test_every_jsonld_block_parses(zsite):
    # The service pages only: the home page's and the posts' JSON-LD are the gaps xfailed above.
    assert mk.SERVICE_PAGES <= mk.jsonld_pages(zsite)


# --- nothing from other hosts ---------------------------------------------------------------------

def test_no_asset_from_another_host(zsite):
    mk.test_no_asset_from_another_host(zsite)


def test_links_leave_only_for_fictional_or_own_hosts(zsite):
    mk.test_links_leave_only_for_fictional_or_own_hosts(zsite)


def test_stylesheets_load_nothing_remote(zsite):
    mk.test_stylesheets_load_nothing_remote(zsite)


def test_no_web_fonts_and_a_system_stack(zsite):
    mk.test_no_web_fonts_and_a_system_stack(zsite)


def test_email_and_server_templates_are_not_published(zsite):
    mk.test_email_and_server_templates_are_not_published(zsite)
