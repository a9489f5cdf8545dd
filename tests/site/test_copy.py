"""What the built pages say agrees with sales.yml, and with itself.

The people who run consultations are sales.yml's hosts (`consultation.hosts`, by default everyone
with the role host): every page that says who runs, hosts or holds a consultation may name only
them. A testimonial is signed by a client, never by someone on the team. The blog has new posts
for 2026, each described on its own.
"""
from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import yaml

from capture.schema.forms import load_schema
from capture.schema.sales import load_sales
from tests.site.blocks import Blocks
from tests.test_site import POSTS, ROOT, html_pages, jsonld, page

SALES = load_sales(ROOT / "sales.yml", ZoneInfo("Europe/London"),
                   load_schema(ROOT / "forms.yml").forms)
HOSTS = {SALES.member(email).name for email in SALES.consultation.hosts}
TEAM = {m.name for m in SALES.team}
AUTHORS = {a["name"] for a in yaml.safe_load((ROOT / "docs/blog/.authors.yml").read_text())["authors"].values()}
# The day issue 20 was written: no post may claim a later date.
LATEST_POST_DATE = date(2026, 12, 4)

# A block is about who runs consultations when it mentions one and says who runs, hosts or holds
# it, or who it is with ("a 30-minute call by phone or video with Maya or Tom").
ABOUT_CONSULTATIONS = re.compile(r"consultation|30-minute call", re.I)
WHO_RUNS = re.compile(r"\b(run|runs|running|ran|host|hosts|hosted|hosting|hold|holds|held|lead|leads|with)\b", re.I)


def blocks(site_dir, rel: str) -> Blocks:
    return Blocks((site_dir / rel).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def people(site) -> set[str]:
    """Everyone the site names as one of us: sales.yml's team, the blog's authors, the About page's
    people (a paragraph that opens with a bold name and a comma: "**Tom Reid**, project lead.")."""
    about = blocks(site, "about/index.html")
    introduced = {name for name in about.strong for b in about.blocks if name and b.startswith(name + ",")}
    assert len(introduced) >= len(TEAM), introduced
    return TEAM | AUTHORS | introduced


def named(text: str, people: set[str]) -> set[str]:
    """The people named in `text`, by full name or by first name alone."""
    found = {p for p in people if re.search(rf"\b{re.escape(p)}\b", text)}
    first = {p for p in people if re.search(rf"\b{re.escape(p.split()[0])}\b", text)}
    return found | first


def consultation_claims(site_dir, people: set[str]) -> list[tuple[str, str, set[str]]]:
    """(page, block, the people it names) for every block saying who runs consultations."""
    claims = []
    for path in html_pages(site_dir):
        for text in Blocks(path.read_text(encoding="utf-8")).blocks:
            if ABOUT_CONSULTATIONS.search(text) and WHO_RUNS.search(text):
                names = named(text, people)
                if names:
                    claims.append((path.relative_to(site_dir).as_posix(), text, names))
    return claims


def test_sales_yml_has_hosts_and_people_who_are_not():
    # The checks below mean something only if some of the team do not host.
    assert HOSTS == {"Maya Patel", "Tom Reid"}
    assert TEAM - HOSTS


def test_every_name_given_as_running_consultations_is_a_host(site, people):
    claims = consultation_claims(site, people)
    wrong = [(rel, text, names - HOSTS) for rel, text, names in claims if names - HOSTS]
    assert not wrong, "pages name someone who is not a host in sales.yml as running consultations:\n" + \
        "\n".join(f"- {rel}: {sorted(n)} in {text!r}" for rel, text, n in wrong)


@pytest.mark.parametrize("rel", ["about/index.html", "consultation/index.html"])
def test_about_and_consultation_pages_name_the_hosts(site, people, rel):
    said = set().union(*(names for r, _, names in consultation_claims(site, people) if r == rel))
    assert said == HOSTS, f"{rel} names {sorted(said)} as running consultations, sales.yml {sorted(HOSTS)}"


def test_about_page_introduces_everyone_in_sales_yml(site):
    about = blocks(site, "about/index.html")
    assert TEAM <= set(about.strong), f"missing from the About page: {sorted(TEAM - set(about.strong))}"
    for member in SALES.team:
        [intro] = [b for b in about.blocks if b.startswith(member.name + ",")]
        if "marketing" in member.roles and "host" not in member.roles:
            assert "marketing" in intro.lower(), intro


def test_testimonials_are_signed_by_clients_not_by_the_team(site, people):
    signed = []
    for path in html_pages(site):
        for caption in Blocks(path.read_text(encoding="utf-8")).quote_captions:
            name = caption.split(",")[0].strip()
            signed.append((path.relative_to(site).as_posix(), name))
    assert len(signed) >= 4, signed  # the home page's three and the case study's
    by_team = [(rel, name) for rel, name in signed if name in people]
    assert not by_team, f"testimonials signed with a team member's name: {by_team}"


def test_consultation_copy_says_what_happens_with_or_without_the_script(site):
    text = " ".join(blocks(site, "consultation/index.html").blocks)
    assert "A 30-minute call by video or phone" in text
    assert "your browser does not run our script" in text
    assert "Weekdays only" in text  # the preferred date's help, which the server now enforces too


# --- the blog ----------------------------------------------------------------------------------

def front_matter(post) -> dict:
    return yaml.safe_load(post.read_text(encoding="utf-8").split("---")[1])


def test_three_new_posts_in_2026_and_none_later_than_the_issue():
    created = {front_matter(p)["slug"]: front_matter(p)["date"]["created"] for p in POSTS}
    in_2026 = sorted(slug for slug, day in created.items() if day.year == 2026)
    assert len(in_2026) >= 3, in_2026
    assert max(created.values()) <= LATEST_POST_DATE, created


def test_every_post_has_its_own_description():
    descriptions = [" ".join(front_matter(p)["description"].split()) for p in POSTS]
    assert all(len(d) >= 80 for d in descriptions), descriptions
    assert len(set(descriptions)) == len(descriptions)


def test_new_posts_describe_themselves_to_search_engines(site):
    for post in POSTS:
        meta = front_matter(post)
        if meta["date"]["created"].year != 2026:
            continue
        [data] = jsonld(page(site, f"blog/{meta['slug']}/index.html"))
        assert data["@type"] == "BlogPosting" and data["description"] == " ".join(meta["description"].split())
        assert {a["name"] for a in data["author"]} <= TEAM | AUTHORS
