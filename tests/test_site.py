"""The marketing site: built once per session with `mkdocs build --strict`, then checked as HTML.

Covers the page types, the forms against forms.yml, the no-third-party rule, the
search-engine tags (JSON-LD, Open Graph, canonical), the feed, the sitemap and
robots.txt, and that email and server templates never reach the published site.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
import yaml

from capture.schema.forms import SCRIPT_FIELDS, load_schema
from capture.sitebuild import FormMarkerError, FormRenderer, copy_site_inputs, form_action, package_price

ROOT = Path(__file__).resolve().parent.parent
SITE_URL = "https://www.fernleaf.example/"
BUILD_TIME = "1767225600"  # SOURCE_DATE_EPOCH: the feed's build date, for reproducible output
MKDOCS = Path(sys.executable).with_name("mkdocs")
SCHEMA = load_schema(ROOT / "forms.yml")
CONFIG = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)  # !ENV stays text
PACKAGES = {p["id"]: p for p in CONFIG["extra"]["packages"]}
POSTS = sorted((ROOT / "docs/blog/posts").glob("*.md"))


def build_env(**extra) -> dict:
    """The environment for a quiet, strict build (no end-of-life banners)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")}
    env.update(NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true", SITE_URL=SITE_URL,
               SOURCE_DATE_EPOCH=BUILD_TIME, **extra)
    return env


def mkdocs_build(project: Path, out: Path, **env) -> subprocess.CompletedProcess:
    """Run a strict build of `project` into `out`."""
    return subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(out)],
                          cwd=project, env=build_env(**env), capture_output=True, text=True,
                          timeout=240)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site, built strictly once for the whole session."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = mkdocs_build(ROOT, out)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr[-4000:]
    return out


# --- a tiny HTML reader ----------------------------------------------------------

class Page(HTMLParser):
    """Every start tag with its attributes, the text of labels, and the JSON-LD blocks."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.labels: dict[str, str] = {}
        self.jsonld: list[str] = []
        self.text: list[str] = []
        self._label_for = None
        self._script_ld = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        self.tags.append((tag, attrs))
        if tag == "label" and attrs.get("for"):
            self._label_for = attrs["for"]
            self.labels[self._label_for] = ""
        if tag == "script" and attrs.get("type") == "application/ld+json":
            self._script_ld = True
            self.jsonld.append("")

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_for = None
        if tag == "script":
            self._script_ld = False

    def handle_data(self, data):
        if self._label_for:
            self.labels[self._label_for] += data
        if self._script_ld:
            self.jsonld[-1] += data
        self.text.append(data)

    def find(self, tag: str, **attrs) -> list[dict]:
        """Attributes of every `tag` whose attributes include `attrs` (value None: present)."""
        return [a for t, a in self.tags if t == tag and all(
            (k in a) if v is None else a.get(k) == v for k, v in attrs.items())]

    def meta(self, key: str) -> str | None:
        """The content of <meta name=key> or <meta property=key>."""
        for a in self.find("meta"):
            if a.get("name") == key or a.get("property") == key:
                return a.get("content")
        return None


def page(site: Path, rel: str) -> Page:
    path = site / rel
    assert path.is_file(), f"missing page {rel}"
    return Page(path.read_text(encoding="utf-8"))


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


# --- page types ----------------------------------------------------------------------

PAGES = ["index.html", "services/index.html", "services/starter-site/index.html",
         "services/business-site/index.html", "services/ecommerce-site/index.html",
         "about/index.html", "blog/index.html", "blog/archive/2025/index.html",
         "consultation/index.html", "contact/index.html", "privacy/index.html",
         "thank-you/consultation/index.html", "thank-you/contact/index.html", "404.html"]


@pytest.mark.parametrize("rel", PAGES)
def test_page_exists(site, rel):
    assert (site / rel).is_file()


def test_the_build_lists_its_pages_for_the_view_counter(site):
    """site-paths.json: every page as location.pathname gives it, so only those views are stored."""
    listed = json.loads((site / "site-paths.json").read_text(encoding="utf-8"))["pages"]
    expected = {"/" + rel.removesuffix("index.html") for rel in PAGES if rel != "404.html"}
    assert expected <= set(listed) and "/404.html" not in listed
    assert "/blog/website-cost-guide/" in listed  # a post, at post_url_format's address
    assert len(listed) == len(html_pages(site)) - 1  # every HTML page but the not-found page


def test_every_post_and_category_has_a_page_and_posts_name_their_authors(site):
    authors = yaml.safe_load((ROOT / "docs/blog/.authors.yml").read_text())["authors"]
    assert len(POSTS) >= 6
    for post in POSTS:
        meta = yaml.safe_load(post.read_text().split("---")[1])
        html = (site / "blog" / meta["slug"] / "index.html").read_text()
        for author in meta["authors"]:
            assert authors[author]["name"] in html, (meta["slug"], author)
            assert (ROOT / "docs" / authors[author]["avatar"]).is_file()
    assert len(list((site / "blog/category").glob("*/index.html"))) >= 4


def test_each_form_has_its_thank_you_page(site):
    for form in SCHEMA.forms.values():
        assert (site / form.thank_you.strip("/") / "index.html").is_file(), form.thank_you


def test_posts_are_substantial_with_reading_time_and_a_call_to_action(site):
    for post in POSTS:
        _, front, body = post.read_text().split("---", 2)
        slug = yaml.safe_load(front)["slug"]
        html = (site / "blog" / slug / "index.html").read_text()
        assert len(body.split()) >= 700, f"{slug}: only {len(body.split())} words"
        assert "min read" in html, slug
        assert 'class="fl-post-cta"' in html and 'href="../../consultation/"' in html, slug


def test_home_is_a_landing_page(site):
    p = page(site, "index.html")
    html = (site / "index.html").read_text()
    assert "fl-hero" in html and "Book a free consultation" in html
    for pkg in PACKAGES.values():
        assert f"£{int(pkg['price_from']):,}" in html, pkg["id"]
    assert p.find("a", href="consultation/")


# --- forms against the schema --------------------------------------------------------

def forms_on(p: Page) -> dict[str, list[tuple[str, dict]]]:
    """{form prefix: [(tag, attrs) of its controls]} for each capture form on a page."""
    forms, current = {}, None
    for tag, attrs in p.tags:
        if tag == "form" and "data-capture-form" in attrs:
            current = attrs["id"]
            forms[current] = [("form", attrs)]
        elif current and tag in ("input", "select", "textarea", "option", "button", "div", "p"):
            forms[current].append((tag, attrs))
    return forms


FORM_PAGES = [("consultation/index.html", "consultation", {}),
              ("contact/index.html", "contact", {}),
              ("services/starter-site/index.html", "consultation", {"service": "starter"}),
              ("services/business-site/index.html", "consultation", {"service": "business"}),
              ("services/ecommerce-site/index.html", "consultation", {"service": "ecommerce"})]


@pytest.mark.parametrize("rel, form_id, presets", FORM_PAGES)
def test_form_matches_the_schema(site, rel, form_id, presets):
    p = page(site, rel)
    forms = forms_on(p)
    prefix = f"form-{form_id}"
    assert list(forms) == [prefix]
    controls = forms[prefix]
    form_attrs = controls[0][1]
    form = SCHEMA.forms[form_id]
    assert form_attrs["action"] == f"/api/forms/{form_id}"
    assert form_attrs["method"] == "post"
    assert form_attrs["data-capture-form"] == form_id
    named = [(t, a) for t, a in controls if t in ("input", "select", "textarea") and a.get("name")]
    visible = [(t, a) for t, a in named
               if a.get("type") != "hidden" and a["name"] != SCHEMA.honeypot]
    # A radio group is one field: its first radio stands for it.
    visible = [(t, a) for i, (t, a) in enumerate(visible)
               if a.get("type") != "radio" or all(b["name"] != a["name"] for _, b in visible[:i])]
    assert [a["name"] for _, a in visible] == [f.name for f in form.fields]
    for (tag, attrs), field in zip(visible, form.fields):
        check_control(p, prefix, tag, attrs, field)
    selected = {}
    current = None
    for tag, attrs in controls:
        if tag == "select":
            current = attrs["name"]
        elif tag == "option" and "selected" in attrs and attrs.get("value"):
            selected[current] = attrs["value"]
    assert selected == presets
    hidden = [a["name"] for t, a in named if a.get("type") == "hidden"]
    zone = [form.booking.zone_field] if form.booking and form.booking.zone_field else []
    assert hidden == zone + list(SCRIPT_FIELDS)
    honeypot = [a for t, a in named if a["name"] == SCHEMA.honeypot]
    assert len(honeypot) == 1 and honeypot[0]["tabindex"] == "-1"
    assert p.find("div", **{"class": "capture-hp"}) and not p.find("div", **{"aria-hidden": "true", "class": "capture-hp"})
    status = p.find("div", id=f"{prefix}-status")
    assert status and status[0]["role"] == "status" and status[0]["aria-live"] == "polite"
    assert [a for t, a in controls if t == "button" and a.get("type") == "submit"]


def check_control(p: Page, prefix: str, tag: str, attrs: dict, field) -> None:
    """One rendered control against its schema field: type, required, limits, label, help."""
    expected_tag = {"textarea": "textarea", "select": "select"}.get(field.type, "input")
    assert tag == expected_tag, field.name
    if tag == "input" and field.type == "url":
        # A bare "www.example.com" must get through to the server, which accepts it.
        assert attrs["type"] == "text" and attrs["inputmode"] == "url", field.name
    elif tag == "input":
        assert attrs["type"] == field.type, field.name
    assert ("required" in attrs) == field.required, field.name
    if field.type == "radio":
        # The group's fieldset carries the name, help and error (test_a_radio_field_is_a_group...).
        assert attrs["id"] == f"{prefix}-{field.name}-{field.choices[0].value}"
        [group] = p.find("fieldset", id=f"{prefix}-{field.name}")
        assert f"{prefix}-{field.name}-error" in group["aria-describedby"].split()
        return
    assert attrs["id"] == f"{prefix}-{field.name}"
    if field.type in ("text", "email", "tel", "url", "textarea"):
        assert attrs["maxlength"] == str(field.max_length), field.name
    if field.autocomplete:
        assert attrs["autocomplete"] == field.autocomplete, field.name
    label = " ".join(p.labels[attrs["id"]].split())
    assert label.startswith(" ".join(field.label.split())), field.name
    assert label.endswith("(required)" if field.required else "(optional)"), field.name
    described = attrs["aria-describedby"].split()
    assert f"{attrs['id']}-error" in described
    assert p.find("p", id=f"{attrs['id']}-error")
    if field.help:
        assert f"{attrs['id']}-help" in described and p.find("p", id=f"{attrs['id']}-help")
    if field.not_past:
        assert "data-not-past" in attrs


@pytest.mark.parametrize("rel, form_id, presets", FORM_PAGES[:2])
def test_select_options_are_the_schema_choices(site, rel, form_id, presets):
    html = (site / rel).read_text()
    for field in SCHEMA.forms[form_id].fields:
        if field.type == "select":
            block = re.search(rf'<select id="form-{form_id}-{field.name}".*?</select>', html, re.S)
            values = re.findall(r'<option value="([^"]*)"', block.group(0))
            assert values == [""] + [c.value for c in field.choices]


SCRIPT_BUDGET = 8192  # bytes, all the site's own JavaScript gzipped (issue 20: the calendar picker included)


def gzipped_size(path: Path) -> int:
    """What `gzip -9c <path> | wc -c` counts (the file's name is in the header)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=path.name, mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as out:
        out.write(path.read_bytes())
    return len(buffer.getvalue())


def test_the_sites_own_script_stays_within_8_kb_gzipped():
    sources = sorted((ROOT / "docs/assets/javascripts").glob("*.js"))
    assert sources
    total = sum(map(gzipped_size, sources))
    assert total <= SCRIPT_BUDGET, f"the site's script is {total} bytes gzipped (over {SCRIPT_BUDGET})"


def test_forms_script_is_loaded_everywhere(site):
    for path in html_pages(site):
        assert re.search(r'<script src="[./]*assets/javascripts/forms\.js" defer>', path.read_text()), path


BOOKING_PAGES = [(rel, form_id) for rel, form_id, _ in FORM_PAGES if SCHEMA.forms[form_id].booking]


def test_booking_forms_exist_to_be_checked():
    assert BOOKING_PAGES and not SCHEMA.forms["contact"].booking


@pytest.mark.parametrize("rel, form_id", BOOKING_PAGES)
def test_booking_form_has_a_hidden_picker_where_the_replaced_fields_are(site, rel, form_id):
    booking = SCHEMA.forms[form_id].booking
    prefix = f"form-{form_id}"
    html = (site / rel).read_text()
    p = Page(html)
    boxes = p.find("div", **{"class": "capture-picker"})
    assert len(boxes) == 1
    box = boxes[0]
    # Hidden in the markup: without the script nobody sees it; forms.js shows it once slots load.
    assert "hidden" in box and box["id"] == f"{prefix}-picker"
    assert box["data-slot-field"] == booking.slot_field
    assert box["data-replaces"].split() == list(booking.replaces)
    slot_id = f"{prefix}-{booking.slot_field}"
    group = p.find("fieldset", id=slot_id)
    assert group and group[0]["name"] == booking.slot_field
    assert group[0]["aria-describedby"].split() == [f"{slot_id}-help", f"{slot_id}-error"]
    assert p.find("p", id=f"{slot_id}-help") and p.find("p", id=f"{slot_id}-error")
    live = p.find("p", id=f"{prefix}-picker-live")
    assert live and live[0]["aria-live"] == "polite" and "role" not in live[0]  # one role=status per form
    block = re.search(r'<div class="capture-picker".*?</fieldset>\s*</div>', html, re.S).group(0)
    assert "Pick a time for the call" in block
    assert "<input" not in block  # the radios come from the script; no name competes with the fields
    # The replaced fields are still there (test_form_matches_the_schema checks them against the
    # schema), enabled for visitors without the script, and the picker stands right before them.
    for name in booking.replaces:
        [control] = [a for t, a in p.tags if a.get("id") == f"{prefix}-{name}"]
        assert control["name"] == name and "disabled" not in control and "hidden" not in control
    ids = [a["id"] for t, a in p.tags if t in ("div", "input", "select", "textarea")
           and a.get("id", "").startswith(prefix + "-") and a.get("type") != "hidden"]
    assert ids[ids.index(f"{prefix}-picker") + 1] == f"{prefix}-{booking.replaces[0]}"


def test_forms_without_booking_have_no_picker(site):
    assert "capture-picker" not in (site / "contact/index.html").read_text()


def schema_without_zone_field(form_id: str):
    """SCHEMA with the booking's zone_field taken out (a booking form that does not ask for zones)."""
    form = SCHEMA.forms[form_id]
    return replace(SCHEMA, forms={**SCHEMA.forms, form_id: replace(form, booking=replace(form.booking, zone_field=None))})


@pytest.mark.parametrize("with_zone", [False, True], ids=["no zone_field", "zone_field"])
def test_the_picker_brings_the_time_zone_input_only_when_the_booking_names_one(with_zone):
    schema = SCHEMA if with_zone else schema_without_zone_field("consultation")
    zone = SCHEMA.forms["consultation"].booking.zone_field
    assert zone, "forms.yml's consultation booking names its zone_field"
    html = FormRenderer(schema).render("consultation", page="consultation.md")
    p = Page(html)
    [box] = p.find("div", **{"class": "capture-picker"})
    zones = [a for t, a in p.tags if a.get("name") == zone]
    if not with_zone:
        assert zones == [] and "data-zone-field" not in box
        return
    # One hidden input (forms.js fills it with the visitor's IANA zone), not a visible field.
    assert zones == [{"type": "hidden", "id": f"form-consultation-{zone}", "name": zone, "value": ""}]
    assert box["data-zone-field"] == zone


def test_a_radio_field_is_a_group_of_choices_with_its_label_as_legend():
    form = SCHEMA.forms["consultation"]
    kind = form.field(form.booking.kind_field)
    html = FormRenderer(SCHEMA).render("consultation", page="consultation.md")
    p = Page(html)
    radios = [a for t, a in p.tags if t == "input" and a.get("name") == kind.name]
    assert [r["value"] for r in radios] == [c.value for c in kind.choices]
    assert all(r["type"] == "radio" for r in radios)
    # The first choice is chosen until the visitor picks another: one tap fewer on a phone.
    assert "checked" in radios[0] and all("checked" not in r for r in radios[1:])
    for radio, choice in zip(radios, kind.choices):
        assert f'<label for="{radio["id"]}">{choice.label}</label>' in html
    assert f"<legend>{kind.label} " in html


# --- the form marker, unit by unit -------------------------------------------------------

@pytest.fixture
def renderer():
    return FormRenderer(SCHEMA)


def test_marker_renders_one_raw_html_block(renderer):
    html = renderer.render("contact", page="contact.md")
    assert html.startswith("<form") and html.endswith("</form>")
    assert "\n\n" not in html  # Markdown keeps it as one HTML block


def test_second_form_on_a_page_gets_its_own_prefix(renderer):
    renderer.render("contact", page="x.md")
    assert 'id="form-contact-2"' in renderer.render("contact", page="x.md")
    assert 'id="form-contact"' in renderer.render("contact", page="y.md")


def test_preset_is_selected(renderer):
    html = renderer.render("consultation", page="p.md", service="business")
    assert '<option value="business" selected>' in html


def test_action_follows_capture_api_url():
    assert form_action("contact") == "/api/forms/contact"
    assert form_action("contact", "https://api.fernleaf.example/") == "https://api.fernleaf.example/api/forms/contact"


def test_values_are_escaped(renderer):
    html = renderer.render("contact", page="p.md", name='"><script>alert(1)</script>')
    assert "<script>alert" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("form_id, presets, message", [
    ("newsletter", {}, "services/x.md: form('newsletter'): there is no such form"),
    ("consultation", {"colour": "red"}, "the form has no field 'colour'"),
    ("consultation", {"service": "platinum"}, "'platinum' is not one of the choices"),
    ("consultation", {"consent": "on"}, "a checkbox is for the visitor to tick"),
    ("contact", {"name": "x" * 500}, "longer than the field allows"),
])
def test_bad_markers_name_the_page(renderer, form_id, presets, message):
    with pytest.raises(FormMarkerError, match=re.escape(message)) as info:
        renderer.render(form_id, page="services/x.md", **presets)
    assert "services/x.md" in str(info.value)


def test_unknown_package_price_names_the_page():
    assert package_price([{"id": "starter", "price_from": 1900}], "starter") == "£1,900"
    with pytest.raises(FormMarkerError, match="blog/a.md: price\\('gold'\\)"):
        package_price([{"id": "starter", "price_from": 1900}], "gold", page="blog/a.md")


def copy_project(dest: Path) -> Path:
    """The parts of the project a site build reads, copied into `dest`."""
    return copy_site_inputs(dest)


@pytest.mark.site
def test_unknown_form_fails_the_strict_build_naming_the_page(tmp_path):
    project = copy_project(tmp_path / "project")
    (project / "docs/contact.md").write_text("# Contact\n\n{{ form(\"newsletter\") }}\n")
    result = mkdocs_build(project, tmp_path / "out")
    assert result.returncode != 0
    assert "contact.md: form('newsletter'): there is no such form" in result.stderr


def test_a_copy_without_git_builds_the_same_site_byte_for_byte(site, tmp_path):
    project = copy_project(tmp_path / "project")  # no .git: dates come from front matter
    result = mkdocs_build(project, tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    ours = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    theirs = {p.relative_to(tmp_path / "out"): p.read_bytes()
              for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert sorted(ours) == sorted(theirs)
    assert [str(p) for p in ours if ours[p] != theirs[p]] == []


@pytest.mark.site
def test_capture_api_url_sets_the_action(tmp_path):
    project = copy_project(tmp_path / "project")
    result = mkdocs_build(project, tmp_path / "out", CAPTURE_API_URL="https://api.fernleaf.example")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (tmp_path / "out/contact/index.html").read_text()
    assert 'action="https://api.fernleaf.example/api/forms/contact"' in html


# --- nothing from other hosts ---------------------------------------------------------

ASSET_ATTRS = {"link": ["href"], "script": ["src"], "img": ["src", "srcset"], "source": ["src", "srcset"],
               "iframe": ["src"], "video": ["src", "poster"], "audio": ["src"], "embed": ["src"],
               "object": ["data"], "image": ["href"], "use": ["href"]}
OWN_HOST = urlsplit(SITE_URL).hostname


def external(url: str) -> bool:
    """Does this URL point at a host other than the site's own?"""
    url = url.strip()
    if url.startswith("//"):
        return True
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname != OWN_HOST


def test_no_asset_from_another_host(site):
    for path in html_pages(site):
        p = Page(path.read_text(encoding="utf-8"))
        for tag, names in ASSET_ATTRS.items():
            for attrs in p.find(tag):
                if tag == "link" and attrs.get("rel") in ("canonical", "alternate", "prev", "next"):
                    continue
                for name in names:
                    for url in re.split(r",\s*", attrs.get(name, "")):
                        assert not external(url.split(" ")[0]), f"{path}: <{tag} {name}={url}>"
        for style in p.find("div", style=None) + p.find("span", style=None):
            assert "url(http" not in style["style"]


def test_links_leave_only_for_fictional_or_own_hosts(site):
    for path in html_pages(site):
        for attrs in Page(path.read_text(encoding="utf-8")).find("a"):
            href = attrs.get("href", "")
            if external(href):
                host = urlsplit(href).hostname or ""
                assert host.endswith(".example"), f"{path}: link to {href}"


def test_stylesheets_load_nothing_remote(site):
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), css
        assert "@import" not in text or not re.search(r"@import\s+(url\()?['\"]?(https?:)?//", text), css


def test_no_web_fonts_and_a_system_stack(site):
    css = (site / "assets/stylesheets/site.css").read_text()
    assert "system-ui" in css
    for path in html_pages(site):
        assert "fonts.googleapis" not in path.read_text() and "fonts.gstatic" not in path.read_text()


def test_email_and_server_templates_are_not_published(site):
    published = {p.name for p in site.rglob("*") if p.is_file()}
    for folder in ("email", "server"):
        assert not (site / folder).exists()
        for template in (ROOT / "templates" / folder).rglob("*"):
            if template.is_file() and template.name not in ("index.html", "404.html"):
                assert template.name not in published, template
    assert not list(site.rglob("problem.html"))
    assert not (site / "forms").exists() and not (site / "site").exists()


# --- search engines and sharing -----------------------------------------------------------

CONTENT_PAGES = [p for p in PAGES if p != "404.html" and "archive" not in p]


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_page_has_description_sharing_tags_and_canonical(site, rel):
    p = page(site, rel)
    description = p.meta("description")
    assert description and len(description) > 50
    if rel not in ("blog/index.html",):
        assert description != " ".join(CONFIG["site_description"].split()), f"{rel} uses the default"
    for key in ("og:title", "og:description", "og:url", "og:image", "twitter:card", "twitter:image"):
        assert p.meta(key), f"{rel}: {key}"
    assert p.meta("og:image").startswith(SITE_URL)
    canonical = p.find("link", rel="canonical")
    assert canonical and canonical[0]["href"].startswith(SITE_URL)


def jsonld(p: Page) -> list[dict]:
    return [json.loads(block) for block in p.jsonld]


def test_home_describes_the_business(site):
    [data] = jsonld(page(site, "index.html"))
    business = CONFIG["extra"]["business"]
    assert data["@context"] == "https://schema.org"
    assert data["@type"] in ("LocalBusiness", "ProfessionalService", "Organization")
    assert data["name"] == business["name"] and data["email"] == business["email"]
    assert data["address"]["postalCode"] == business["postcode"]
    assert data["url"] == SITE_URL


@pytest.mark.parametrize("package", ["starter", "business", "ecommerce"])
def test_service_pages_describe_the_service(site, package):
    slug = PACKAGES[package]["url"]
    [data] = jsonld(page(site, f"{slug}index.html"))
    assert data["@type"] == "Service"
    assert data["name"] == PACKAGES[package]["name"]
    assert data["offers"]["price"] == int(PACKAGES[package]["price_from"])
    assert data["provider"]["name"] == "Fernleaf Studio"


def test_posts_are_blog_postings(site):
    for post in POSTS:
        meta = yaml.safe_load(post.read_text().split("---")[1])
        [data] = jsonld(page(site, f"blog/{meta['slug']}/index.html"))
        assert data["@type"] == "BlogPosting"
        assert data["headline"] == meta["title"]
        assert data["datePublished"].startswith(str(meta["date"]["created"]))
        assert data["author"] and all(a["@type"] == "Person" for a in data["author"])
        assert data["url"] == f"{SITE_URL}blog/{meta['slug']}/"


def jsonld_pages(site: Path) -> set[str]:
    """The pages with JSON-LD, each block checked to parse and to name schema.org and a type."""
    described = set()
    for path in html_pages(site):
        for block in Page(path.read_text(encoding="utf-8")).jsonld:
            data = json.loads(block)
            assert data["@context"] == "https://schema.org" and data["@type"], path
            described.add(path.relative_to(site).as_posix())
    return described


SERVICE_PAGES = {f"{p['url']}index.html" for p in PACKAGES.values()}
POST_PAGES = {f"blog/{yaml.safe_load(post.read_text().split('---')[1])['slug']}/index.html" for post in POSTS}


def test_every_jsonld_block_parses(site):
    # Named pages, not just "every block there is": a site with no JSON-LD at all has none to fail.
    expected = {"index.html", *SERVICE_PAGES, *POST_PAGES}
    assert expected <= jsonld_pages(site), sorted(expected - jsonld_pages(site))


def test_sitemap_lists_the_pages(site):
    tree = ElementTree.parse(site / "sitemap.xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [loc.text for loc in tree.getroot().findall("s:url/s:loc", ns)]
    assert all(u.startswith(SITE_URL) for u in urls)
    for rel in ("", "services/", "services/starter-site/", "consultation/", "blog/local-seo-guide/"):
        assert SITE_URL + rel in urls
    assert not [u for u in urls if "/thank-you/" in u]  # noindex pages stay out


def test_robots_txt_points_at_the_sitemap(site):
    text = (site / "robots.txt").read_text()
    assert "User-agent: *" in text
    assert f"Sitemap: {SITE_URL}sitemap.xml" in text


def test_rss_feed_has_every_post_with_its_front_matter_date(site):
    channel = ElementTree.parse(site / "feed_rss_created.xml").getroot().find("channel")
    assert channel.findtext("title") == "Fernleaf Studio blog"
    for url in [channel.findtext("link")] + [e.get("url") for e in channel.iter("enclosure")]:
        assert url.startswith(SITE_URL), url  # absolute, as RSS readers need
    assert channel.findtext("image/url").endswith("assets/images/social-card.png")
    items = channel.findall("item")
    created = {}
    for post in POSTS:
        meta = yaml.safe_load(post.read_text().split("---")[1])
        created[f"{SITE_URL}blog/{meta['slug']}/"] = meta["date"]["created"]
    assert {item.findtext("link") for item in items} == set(created)
    for item in items:
        assert parsedate_to_datetime(item.findtext("pubDate")).date() == created[item.findtext("link")]
        enclosure = item.find("enclosure")
        if enclosure is not None:
            assert enclosure.get("url").startswith(SITE_URL)


FEEDS = ("feed_rss_created.xml", "feed_rss_updated.xml")
# RSS 2.0 (and the W3C feed validator): a person is an email address, optionally with a name.
RSS_PERSON = re.compile(r"[^@\s()]+@[^@\s()]+\.[a-z]+ \([^()]+\)")
ONCE_PER_ITEM = ("title", "link", "description", "author", "comments", "guid", "pubDate", "source")


@pytest.mark.parametrize("name", FEEDS)
def test_feed_is_valid_rss_2(site, name):
    """The rules the W3C feed validator applies that our build could break (no offline validator)."""
    root = ElementTree.fromstring((site / name).read_bytes())  # well-formed XML, as declared
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for required in ("title", "link", "description"):
        assert channel.findtext(required), required
    people = channel.findall("managingEditor") + channel.findall("webMaster")
    people += [author for item in channel.iter("item") for author in item.findall("author")]
    assert people
    for person in people:
        assert RSS_PERSON.fullmatch(person.text or ""), (person.tag, person.text)
    image = urlsplit(channel.findtext("image/url"))
    assert image.scheme in ("http", "https") and image.netloc, image.geturl()
    assert channel.findtext("image/link") == channel.findtext("link")
    for item in channel.iter("item"):
        for tag in ONCE_PER_ITEM:
            assert len(item.findall(tag)) <= 1, (item.findtext("link"), tag)


def test_feed_is_advertised(site):
    p = page(site, "blog/index.html")
    feeds = p.find("link", type="application/rss+xml")
    assert feeds and feeds[0]["href"].endswith("feed_rss_created.xml")


# --- colours --------------------------------------------------------------------------

def luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_brand_palette_meets_aa_contrast():
    css = (ROOT / "docs/assets/stylesheets/site.css").read_text()
    colour = dict(re.findall(r"--fl-([a-z-]+):\s*(#[0-9a-f]{6});", css))
    white = "#ffffff"
    pairs = [("ink", white), ("muted", white), ("green", white), ("rust", white), ("error", white),
             ("ink", "amber"), ("ink", "green-light"), ("green", "green-light"), ("muted", "green-light")]
    for fg, bg in pairs:
        fg_hex, bg_hex = colour.get(fg, fg), colour.get(bg, bg)
        assert contrast(fg_hex, bg_hex) >= 4.5, f"{fg} on {bg}: {contrast(fg_hex, bg_hex):.2f}"
