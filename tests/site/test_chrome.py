"""The site's chrome looks like an agency's, not documentation's (issue 20).

No "Previous / Next" pager and no table of contents on the marketing pages (a long post may keep
its contents), a phone menu that opens at the top level, "Book a consultation" in every header,
UK dates, and light inline illustrations on the work cards. Checked in the built HTML; how the
header and menu look on a phone is tests/e2e/test_accessibility.py's phone test.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest

from tests.site.test_copy import front_matter
from tests.test_site import POSTS, SITE_URL, html_pages, page

MARKETING = ["index.html", "services/index.html", "services/starter-site/index.html",
             "services/business-site/index.html", "services/ecommerce-site/index.html",
             "about/index.html", "contact/index.html", "consultation/index.html",
             "privacy/index.html", "thank-you/consultation/index.html",
             "thank-you/contact/index.html", "blog/index.html"]
PAGER = 'class="md-footer__link'
TOC = 'data-md-type="toc"'
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
UK_DATE = re.compile(rf"^\d{{1,2}} ({MONTHS}) \d{{4}}$")
US_DATE = re.compile(rf"\b({MONTHS}) \d{{1,2}}, \d{{4}}\b")
LONG_POST = 7  # sections (h2), the closing call to action included: templates/site/main.html


def absolute(rel: str, href: str) -> str:
    """A link on page `rel` as an absolute URL."""
    return urljoin(SITE_URL + rel.removesuffix("index.html"), href)


def html(site_dir, rel: str) -> str:
    return (site_dir / rel).read_text(encoding="utf-8")


@pytest.mark.parametrize("rel", MARKETING)
def test_marketing_pages_have_no_pager_and_no_table_of_contents(site, rel):
    text = html(site, rel)
    assert PAGER not in text, f"{rel}: a Previous/Next pager"
    assert TOC not in text, f"{rel}: a table of contents"


def test_only_long_posts_keep_a_table_of_contents_and_none_has_a_pager(site):
    kept = []
    for post in POSTS:
        slug = front_matter(post)["slug"]
        text = html(site, f"blog/{slug}/index.html")
        sections = text.count("<h2 ")
        assert PAGER not in text, slug
        assert (TOC in text) == (sections >= LONG_POST), f"{slug}: {sections} sections"
        kept.append(TOC in text)
    assert any(kept) and not all(kept), "the rule should keep some contents and drop others"


@pytest.mark.parametrize("rel", ["index.html", "services/starter-site/index.html", "blog/index.html",
                                 "blog/local-seo-guide/index.html", "about/index.html"])
def test_phone_menu_opens_at_the_top_level(site, rel):
    p = page(site, rel)
    # Material's drawer opens the current section through a checked checkbox per level: none here.
    assert not [a for a in p.find("input") if "md-nav__toggle" in a.get("class", "")], rel
    menu = {absolute(rel, a["href"]) for a in p.find("a", **{"class": None}) if "md-nav__link" in a["class"]}
    top = {SITE_URL + target for target in ("", "services/", "about/", "blog/", "contact/", "consultation/")}
    assert top <= menu, (rel, sorted(top - menu))


def test_every_page_has_book_a_consultation_in_its_header(site):
    for path in html_pages(site):
        text = path.read_text(encoding="utf-8")
        header = text[text.index("<header"):text.index("</header>")]
        match = re.search(r'<a class="fl-header-cta" href="([^"]*)">Book a consultation</a>', header)
        assert match, path
        rel = path.relative_to(site).as_posix()
        assert absolute(rel, match.group(1)) == SITE_URL + "consultation/", (rel, match.group(1))


def test_the_header_button_is_a_big_enough_target_and_only_on_narrow_screens(site):
    css = html(site, "assets/stylesheets/site.css")
    rule = re.search(r"\.fl-header-cta \{([^}]*)\}", css).group(1)
    assert float(re.search(r"min-height: ([\d.]+)rem", rule).group(1)) * 20 >= 24  # Material: 1rem = 20px
    assert re.search(r"min-width: 76\.25em\) \{[^}]*\.fl-header-cta \{ display: none; \}", css)


def test_dates_are_uk_dates_everywhere(site):
    shown = []
    for path in html_pages(site):
        text = path.read_text(encoding="utf-8")
        assert not US_DATE.search(text), (path, US_DATE.search(text).group(0))
        shown += re.findall(r"<time [^>]*>\s*([^<]*?)\s*</time>", text)
    assert shown and all(UK_DATE.match(d) for d in shown), sorted(set(shown))[:10]
    assert "17 November 2026" in shown


@pytest.mark.parametrize("rel, cards", [("index.html", 3), ("about/index.html", 4)])
def test_work_cards_have_decorative_inline_illustrations(site, rel, cards):
    text = html(site, rel)
    found = re.findall(r'<article class="fl-card fl-card--case">(.*?)</article>', text, re.S)
    assert len(found) == cards
    for card in found:
        svg = re.search(r"<svg [^>]*>", card)
        assert svg and 'aria-hidden="true"' in svg.group(0) and 'focusable="false"' in svg.group(0), card[:200]
        assert "<img" not in card and "href=\"http" not in card and "xlink:href" not in card
