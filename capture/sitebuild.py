"""Forms (and prices) in the site build: a page writes `{{ form("consultation", service="ecommerce") }}`.

mkdocs-macros-plugin loads this file (`plugins: macros: module_name:` in
mkdocs.yml) and calls `define_env`. The plugin runs under MkDocs, ProperDocs
and Zensical alike, unlike MkDocs `hooks:`, which Zensical ignores.

Forms are rendered from the same `Schema` the capture service validates with,
through a Jinja2 environment (autoescape on) loading `templates/`, with the
`render_form` macro of `templates/forms/form.html`. A mistake in a marker
(unknown form, unknown field, a value the schema does not allow) stops the
strict build with a message naming the page.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

# mkdocs-macros loads this file by path, outside the package: the repository goes on
# the path so that the schema is the package's own module (capture/__init__ stays light).
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from capture.core import paths, sitepaths  # noqa: E402
from capture.schema import forms  # noqa: E402

API_PATH = "/api/forms/"
BLANK_LINES = re.compile(r"\n\s*\n")

log = logging.getLogger("mkdocs.plugins.capture.sitebuild")


class FormMarkerError(ValueError):
    """A form marker in a page is wrong; the message names the page."""


TEMPLATES = paths.TEMPLATES
# Everything a site build reads, relative to the repository (tests and the
# build-time benchmark copy exactly this to build elsewhere).
SITE_INPUTS = ("mkdocs.yml", "forms.yml", "docs", "templates", "capture/__init__.py", "capture/sitebuild.py",
               "capture/core/__init__.py", "capture/core/paths.py", "capture/core/sitepaths.py",
               "capture/schema/__init__.py", "capture/schema/forms.py")


def copy_site_inputs(dest: Path) -> Path:
    """Copy what a site build reads into `dest` (made if missing), keeping the layout."""
    root = TEMPLATES.parent
    for name in SITE_INPUTS:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (root / name).is_dir():
            shutil.copytree(root / name, target)
        else:
            shutil.copy(root / name, target)
    return dest


def form_action(form_id: str, api_url: str = "") -> str:
    """Where a form posts: the same origin, or the API host named by CAPTURE_API_URL."""
    return f"{api_url.rstrip('/')}{API_PATH}{form_id}"


class FormRenderer:
    """Renders form markers from the schema; one per build."""

    def __init__(self, schema, api_url: str = "", privacy_url: str = "/privacy/",
                 templates: Path = TEMPLATES):
        self.schema = schema
        self.api_url = api_url
        env = Environment(loader=FileSystemLoader(str(templates)), autoescape=True,
                          undefined=StrictUndefined)
        env.globals["privacy_url"] = privacy_url
        self.render_form = env.get_template("forms/form.html").module.render_form
        self.seen = Counter()

    def render(self, form_id: str, page: str = "a page", **presets) -> str:
        """The HTML of one form, as a single raw-HTML block for Markdown."""
        form = self.schema.forms.get(form_id)
        if form is None:
            known = ", ".join(sorted(self.schema.forms))
            raise FormMarkerError(f"{page}: form('{form_id}'): there is no such form in "
                                  f"{Path(self.schema.source).name} (known: {known})")
        values = {name: self.check_preset(form, name, value, page)
                  for name, value in presets.items()}
        html = self.render_form(form, form_action(form.id, self.api_url), self.schema.honeypot,
                                attribution=self.attribution_fields(), presets=values,
                                prefix=self.prefix(form.id, page))
        return BLANK_LINES.sub("\n", str(html)).strip()

    def check_preset(self, form, name: str, value, page: str) -> str:
        """A preset value as text, if the form has that field and allows that value."""
        where = f"{page}: form('{form.id}', {name}=...)"
        field = form.field(name)
        if field is None:
            names = ", ".join(f.name for f in form.fields)
            raise FormMarkerError(f"{where}: the form has no field '{name}' (fields: {names})")
        if field.type == "checkbox":
            raise FormMarkerError(f"{where}: a checkbox is for the visitor to tick, not a preset")
        text = str(value)
        if field.type == "select" and text not in {c.value for c in field.choices}:
            allowed = ", ".join(c.value for c in field.choices)
            raise FormMarkerError(f"{where}: '{text}' is not one of the choices ({allowed})")
        if len(text) > field.max_length:
            raise FormMarkerError(f"{where}: longer than the field allows ({field.max_length})")
        return text

    def prefix(self, form_id: str, page: str) -> str:
        """The id prefix: form-<id>, then form-<id>-2… for repeats on one page."""
        self.seen[(page, form_id)] += 1
        count = self.seen[(page, form_id)]
        return f"form-{form_id}" if count == 1 else f"form-{form_id}-{count}"

    @staticmethod
    def attribution_fields() -> tuple[str, ...]:
        """The hidden inputs the site's script fills: attribution and the time on the form."""
        return forms.SCRIPT_FIELDS


def renderer_for(project_dir: str | Path, site_url: str = "") -> FormRenderer:
    """A renderer for the schema the service uses (CAPTURE_FORMS, default forms.yml)."""
    schema_path = Path(project_dir) / os.environ.get("CAPTURE_FORMS", "forms.yml")
    schema = forms.load_schema(schema_path)
    base = urlsplit(site_url).path.rstrip("/") if site_url else ""
    return FormRenderer(schema, api_url=os.environ.get("CAPTURE_API_URL", ""),
                        privacy_url=f"{base}/privacy/")


def define_env(env) -> None:
    """mkdocs-macros entry point: the macros pages may call."""
    renderer = renderer_for(env.project_dir, env.conf.get("site_url") or "")
    absolute_feed_image(env.conf)

    @env.macro
    def form(form_id: str, **presets) -> str:
        """Place a form from forms.yml, e.g. {{ form("consultation", service="starter") }}."""
        return reported(lambda: renderer.render(form_id, page=page_of(env), **presets))

    def price_macro(package_id: str) -> str:
        """A package's price from mkdocs.yml extra.packages, e.g. {{ price("starter") }}."""
        packages = env.conf["extra"].get("packages", [])
        return reported(lambda: package_price(packages, package_id, page=page_of(env)))

    env.macro(price_macro, "price")

    @env.macro
    def privacy_version() -> str:
        """The privacy-policy version the forms' consent box records (forms.yml)."""
        return renderer.schema.privacy_policy_version


def absolute_feed_image(conf) -> None:
    """The RSS channel image as an absolute URL, as RSS 2.0 requires.

    mkdocs-rss-plugin prints its `image` option as given, and the site's address comes from
    SITE_URL at build time, so the URL is joined here (this plugin runs after rss's on_config).
    """
    rss = conf["plugins"].get("rss")
    site_url = conf.get("site_url")
    if rss is None or not site_url:
        return
    for feed in (getattr(rss, "feed_created", None), getattr(rss, "feed_updated", None)):
        if feed is not None and feed.logo_url:
            feed.logo_url = urljoin(site_url, feed.logo_url)


def on_post_build(env) -> None:
    """mkdocs-macros, once the site is written: list its pages for the service (capture/sitepaths.py).

    The page-view counter stores a beacon only for a path on this list; written into the
    output folder, so a build and its list always go together.
    """
    base = urlsplit(env.conf.get("site_url") or "").path
    written = sitepaths.write(Path(env.conf["site_dir"]), base)
    log.info("listed the site's pages in %s", written)


def page_of(env) -> str:
    """The source path of the page being rendered, for error messages."""
    page = getattr(env, "page", None)
    return page.file.src_uri if page else "a page"


def reported(make):
    """Run a macro; a marker mistake is logged as an error (shown even with --quiet), then raised."""
    try:
        return make()
    except FormMarkerError as exc:
        log.error("%s", exc)  # the plugin (on_error_fail) then stops the build
        raise


def package_price(packages: list, package_id: str, page: str = "a page") -> str:
    """A package's starting price as shown to visitors, e.g. '£1,900'."""
    for package in packages:
        if package.get("id") == package_id:
            return f"£{int(package['price_from']):,}"
    known = ", ".join(p.get("id", "?") for p in packages)
    raise FormMarkerError(f"{page}: price('{package_id}'): no such package in mkdocs.yml "
                          f"extra.packages (known: {known})")
