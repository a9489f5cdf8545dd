"""The deployed nginx + gunicorn topology itself: what a browser gets over HTTP.

Plain HTTP requests against the stacks the journeys use: compression, cache
headers for fingerprinted assets and pages, security headers, the 404 page,
the API behind the proxy, and CORS on the split topology.
"""
from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request



def fetch(url: str, method: str = "GET", headers: dict | None = None, data: bytes | None = None):
    """(status, headers, body bytes) for a request, also for 4xx/5xx answers; no redirects followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def fingerprinted_asset(stack_site_dir_html: str) -> str:
    """The path of Material's fingerprinted main stylesheet, as the home page links it."""
    found = re.search(r'href="[^"]*?(assets/stylesheets/main\.[0-9a-f]{8}\.min\.css)"', stack_site_dir_html)
    assert found, "the home page links no fingerprinted Material stylesheet"
    return "/" + found[1]


def test_pages_are_compressed_revalidated_and_carry_security_headers(site_stack):
    status, headers, body = fetch(site_stack.site_url + "/", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers.get("Vary", "")
    assert "<html" in gzip.decompress(body).decode()
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "nginx/" not in headers.get("Server", "")


def test_fingerprinted_assets_are_cached_for_a_year(site_stack):
    _, _, home = fetch(site_stack.site_url + "/")
    status, headers, _ = fetch(site_stack.site_url + fingerprinted_asset(home.decode()),
                               headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_unfingerprinted_assets_are_cached_briefly(site_stack):
    status, headers, _ = fetch(site_stack.site_url + "/assets/javascripts/forms.js")
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=3600"


def test_unknown_page_gets_the_sites_404_page(site_stack):
    status, headers, body = fetch(site_stack.site_url + "/no-such-page/")
    assert status == 404
    assert "text/html" in headers["Content-Type"]
    assert "Fernleaf" in body.decode()
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_directory_without_slash_redirects_on_the_same_host(site_stack):
    status, headers, _ = fetch(site_stack.site_url + "/services")
    assert status == 301
    assert headers["Location"] in ("/services/", site_stack.site_url + "/services/")


def test_api_is_reached_through_nginx(site_stack):
    status, headers, body = fetch(site_stack.site_url + "/api/health")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}  # through the proxy: the public answer, no counts
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_split_api_answers_cors_only_for_the_allowed_origin(split_stack):
    url = split_stack.api_url + "/api/forms/consultation"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    status, headers, _ = fetch(url, "OPTIONS", {"Origin": split_stack.site_url, **preflight})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == split_stack.site_url
    status, headers, _ = fetch(url, "OPTIONS", {"Origin": split_stack.other_site_url, **preflight})
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers


def test_split_static_host_lets_pages_post_to_the_api(split_stack):
    status, headers, body = fetch(split_stack.site_url + "/consultation/")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert f"connect-src 'self' {split_stack.api_url};" in csp
    assert f"form-action 'self' {split_stack.api_url};" in csp
    assert f'action="{split_stack.api_url}/api/forms/consultation"' in body.decode()
    status, _, _ = fetch(split_stack.api_url + "/")
    assert status == 404


def test_pages_run_under_the_security_headers_without_errors(site_stack, open_page):
    # The Content-Security-Policy must not block anything the site itself uses.
    for path in ("/", "/services/business-site/", "/blog/website-cost-guide/", "/consultation/",
                 "/thank-you/consultation/", "/no-such-page/deeper/"):
        page = open_page()
        problems = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}"))
        response = page.goto(site_stack.site_url + path, wait_until="networkidle")
        if response.status == 404:  # the browser reports the 404 page's own status as an error
            problems = [p for p in problems if "status of 404" not in p]
        assert not problems, f"{path}: {problems}"
        page.context.close()
