"""External links: one builder for every URL that leaves the app."""
from __future__ import annotations

from datetime import date

import pytest

from capture.core.urls import external


@pytest.mark.parametrize("base, path, query, url", [
    ("https://c.example", "/desk/report", {"since": date(2026, 11, 30), "until": None},
     "https://c.example/desk/report?since=2026-11-30"),
    ("https://c.example/capture", "/desk/leads/Ab_-1", {}, "https://c.example/capture/desk/leads/Ab_-1"),
    ("", "/thank-you/", {}, "/thank-you/"),  # no CAPTURE_SITE_URL: a path on our own host
    ("https://www.f.example", "/thanks/?form=x#top", {}, "https://www.f.example/thanks/?form=x#top"),
    ("https://c.example/desk/report", "", {"q": "a&b c"}, "https://c.example/desk/report?q=a%26b+c"),
    ("https://c.example", "/desk/leads/a b<", {}, "https://c.example/desk/leads/a%20b%3C"),
])
def test_external_quotes_the_path_and_encodes_the_query(base, path, query, url):
    assert external(base, path, **query) == url


def test_a_path_must_start_at_the_root():
    with pytest.raises(ValueError):
        external("https://c.example", "desk/")
