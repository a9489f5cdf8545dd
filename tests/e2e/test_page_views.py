"""Counting visits in a real browser: one beacon per page view, no cookie, no other host.

The browser presents an ordinary desktop user agent: a headless one is on the
crawler list (capture/traffic/checks.py) and, rightly, not counted.
"""
from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select

from capture.db.models import page_views

DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36")


def counted(stack, campaign: str, want: int, timeout: float = 10.0) -> list[dict]:
    """The page_views rows of `campaign` once they hold `want` views (or what there is on time-out)."""
    deadline = time.monotonic() + timeout
    while True:
        with stack.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(page_views).where(page_views.c.utm_campaign == campaign))
                    .mappings()]
        if sum(r["views"] for r in rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_page_views_are_counted_with_no_cookie_and_no_other_host(site_stack, browser):
    context = browser.new_context(user_agent=DESKTOP)
    page = context.new_page()
    hosts, beacons = set(), []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("request", lambda request: beacons.append(request) if request.url.endswith("/api/views") else None)
    campaign = f"winter-{uuid.uuid4().hex[:6]}"
    page.goto(f"{site_stack.site_url}/?utm_source=newsletter&utm_medium=email&utm_campaign={campaign}")
    page.wait_for_load_state("networkidle")
    page.goto(f"{site_stack.site_url}/services/?utm_source=newsletter&utm_medium=email&utm_campaign={campaign}")
    page.wait_for_load_state("networkidle")
    page.reload()  # the same visitor again: a view, not a visitor
    page.wait_for_load_state("networkidle")
    rows = counted(site_stack, campaign, want=3)
    context_cookies = context.cookies()
    context.close()
    assert len(beacons) == 3 and all(b.method == "POST" for b in beacons)
    by_path = {r["path"]: (r["views"], r["visitors"], r["utm_source"], r["utm_medium"]) for r in rows}
    assert by_path == {"/": (1, 1, "newsletter", "email"), "/services/": (2, 1, "newsletter", "email")}
    assert context_cookies == []
    assert hosts == {urlsplit(site_stack.site_url).netloc}
