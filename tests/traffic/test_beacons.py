"""Page-view beacons: daily counts, unique visitors by a daily salt, and nothing personal kept.

Every test runs on SQLite and on PostgreSQL; the day is set by injecting the clock
(the `clock` fixture), never by waiting.
"""
from __future__ import annotations

import json
import re
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
import redis
from sqlalchemy import select, text

from capture.privacy import erasure
from capture.core import sitepaths
from capture.traffic import beacons
from capture.traffic.counts import ROW, View, count_view
from capture.core.setting_checks import ConfigError
from capture.core.settings import load_settings
from capture.db.models import daily_salts, daily_visitors, daily_visits, page_views, visits
from tests.conftest import REDIS_URL, ROOT, TEST_SECRET
from tests.core.test_ratelimit import redis_prefix  # noqa: F401 -- the fixture
from tests.intake.test_openapi import check

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
IP = "198.51.100.7"
# 10:00 in London on a winter Tuesday, and the next morning.
MONDAY = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def clock(clock):
    """The shared clock (tests/conftest.py) from MONDAY; clock(moment) sets it."""
    clock.set(MONDAY)
    return clock.set


def beacon(client, body: dict | None = None, *, ip: str = IP, ua: str = FIREFOX,
           headers: dict | None = None, content_type: str = "text/plain;charset=UTF-8", **fields):
    """What navigator.sendBeacon sends for a JSON string (text/plain), from `ip` with `ua`."""
    body = {"path": "/", **fields} if body is None else body
    return client.post("/api/views", data=json.dumps(body), content_type=content_type,
                       headers={"User-Agent": ua, **(headers or {})}, environ_base={"REMOTE_ADDR": ip})


def rows(app, table=page_views) -> list[dict]:
    with app.extensions["capture"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def counts(app) -> dict:
    """{(day, path, referrer_host, source, medium, campaign): (views, visitors)}"""
    return {tuple(r[c] for c in ROW): (r["views"], r["visitors"]) for r in rows(app)}


def home(day: date = MONDAY.date(), path: str = "/", referrer: str = "", *utm: str) -> tuple:
    return (day, path, referrer, *(utm or ("", "", "")))


# --- counting ------------------------------------------------------------------------------

def test_one_visitor_twice_in_a_day_is_two_views_and_one_visitor(app, client, clock):
    for _ in range(2):
        assert beacon(client).status_code == 204
    assert beacon(client, ip="203.0.113.9").status_code == 204  # someone else
    assert beacon(client, ua=SAFARI).status_code == 204  # another device behind the same router
    assert counts(app) == {home(): (4, 3)}


def test_a_visitor_counts_once_per_row_they_viewed(app, client, clock):
    beacon(client, path="/services/")
    beacon(client, path="/services/")
    beacon(client, path="/pricing/", referrer="https://www.google.com/", utm_source="google")
    assert counts(app) == {home(MONDAY.date(), "/services/"): (2, 1),
                           home(MONDAY.date(), "/pricing/", "www.google.com", "google", "", ""): (1, 1)}


def test_the_next_day_the_same_visitor_counts_again_and_yesterdays_salt_is_gone(app, client, clock):
    beacon(client)
    monday_salt = rows(app, daily_salts)
    monday_keys = rows(app, daily_visitors)
    monday_visit = rows(app, daily_visits)
    # The keys: the counts row's, the visit's page, and one per entry value the visitor is new for.
    assert [s["day"] for s in monday_salt] == [MONDAY.date()] and len(monday_keys) == 8
    beacon(client)  # same day: the same salt, the same keys, the same visit
    assert rows(app, daily_salts) == monday_salt and rows(app, daily_visitors) == monday_keys
    assert [v["visit_id"] for v in rows(app, daily_visits)] == [monday_visit[0]["visit_id"]]

    clock(TUESDAY)
    assert beacon(client).status_code == 204
    assert counts(app) == {home(MONDAY.date()): (2, 1), home(TUESDAY.date()): (1, 1)}
    salts, keys = rows(app, daily_salts), rows(app, daily_visitors)
    assert [s["day"] for s in salts] == [TUESDAY.date()]
    assert salts[0]["salt"] != monday_salt[0]["salt"]
    assert {k["day"] for k in keys} == {TUESDAY.date()} and len(keys) == 8
    # The same person is not recognisable: no key of Monday's is made again, and Monday's visit
    # is no one's (a new one started, under a new key).
    assert not {k["key"] for k in keys} & {k["key"] for k in monday_keys}
    tuesday_visit, = rows(app, daily_visits)
    assert tuesday_visit["day"] == TUESDAY.date() and tuesday_visit["key"] != monday_visit[0]["key"]
    assert [(v["day"], v["views"]) for v in rows(app, visits)] == [(MONDAY.date(), 2), (TUESDAY.date(), 1)]


def test_the_day_is_the_business_day(make_app, clock):
    """23:30 UTC in July is 00:30 in London: the next day, with a new salt."""
    app = make_app(timezone="Europe/London")
    client = app.test_client()
    clock(datetime(2026, 7, 1, 22, 30, tzinfo=timezone.utc))
    beacon(client)
    clock(datetime(2026, 7, 1, 23, 30, tzinfo=timezone.utc))
    beacon(client)
    assert counts(app) == {home(date(2026, 7, 1)): (1, 1), home(date(2026, 7, 2)): (1, 1)}
    salt, = rows(app, daily_salts)
    assert salt["day"] == date(2026, 7, 2)
    assert salt["expires_at"] == datetime(2026, 7, 2, 23, 0, tzinfo=timezone.utc)  # midnight BST


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_an_opt_out_counts_the_view_but_not_the_visitor(app, client, clock, header):
    beacon(client, headers=header)
    beacon(client, headers=header)
    assert counts(app) == {home(): (2, 0)}
    assert rows(app, daily_visitors) == []  # no key computed, none stored
    assert rows(app, daily_visits) == [] and rows(app, visits) == []  # so in no visit


@pytest.mark.parametrize("ua, headers, path", [
    (GOOGLEBOT, {}, "/"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
     "Safari/537.36", {}, "/"),
    ("", {}, "/"),
    ("   ", {}, "/"),
    (FIREFOX, {"Sec-Purpose": "prefetch"}, "/"),
    (FIREFOX, {"Sec-Purpose": "prefetch;prerender"}, "/"),
    (FIREFOX, {"Purpose": "prefetch"}, "/"),
    (FIREFOX, {"X-Moz": "prefetch"}, "/"),
    (FIREFOX, {}, "/desk/"),
    (FIREFOX, {}, "/desk"),
    (FIREFOX, {}, "/desk/leads/abc"),
    (FIREFOX, {}, "/actions/some-token"),
], ids=["googlebot", "headless", "no-ua", "blank-ua", "sec-purpose", "prerender", "purpose", "x-moz",
        "desk", "desk-bare", "desk-lead", "actions"])
def test_bots_prefetches_and_the_desk_are_not_counted(app, client, clock, ua, headers, path):
    response = beacon(client, ua=ua, headers=headers, path=path)
    assert response.status_code == 204 and response.data == b""  # the same answer as a counted view
    assert rows(app) == [] and rows(app, daily_salts) == [] and rows(app, daily_visitors) == []


# --- what is accepted -------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "https://evil.example/", "evil.example/page", "//evil.example/x", "/x/https://evil.example",
    "/" + "a" * 300, "/a\x00b", "/a\nb", "/a b", "/\\evil.example", "/caf\u00e9", "", 3, None,
    ["/"], {"p": "/"}], ids=lambda p: repr(p)[:20])
def test_values_that_cannot_be_a_path_of_the_site_are_refused_naming_path(app, client, clock, path):
    response = beacon(client, path=path)
    assert response.status_code == 400
    assert list(response.json["errors"]) == ["path"]
    assert rows(app) == []


def test_a_missing_path_is_refused(app, client, clock):
    response = beacon(client, {"referrer": "https://www.google.com/"})
    assert response.status_code == 400 and list(response.json["errors"]) == ["path"]


@pytest.mark.parametrize("field, value", [
    ("utm_source", "x" * 101), ("utm_medium", "e\nmail"), ("utm_campaign", "\u202espring"),
    ("utm_source", 7), ("utm_campaign", ["a"]), ("referrer", 1), ("referrer", {"host": "x"})])
def test_other_fields_are_refused_by_name_when_they_cannot_be_what_the_site_sends(app, client, clock,
                                                                                   field, value):
    response = beacon(client, path="/", **{field: value})
    assert response.status_code == 400 and list(response.json["errors"]) == [field]
    assert rows(app) == []


def test_the_query_and_fragment_are_cut_off_and_utm_values_kept_as_written(app, client, clock):
    beacon(client, path="/services/?email=ada@example.com#top", utm_source=" Newsletter ",
           utm_medium="email", utm_campaign="Spring-Offer")
    assert counts(app) == {home(MONDAY.date(), "/services/", "", "Newsletter", "email", "Spring-Offer"): (1, 1)}


@pytest.mark.parametrize("referrer, host", [
    ("https://WWW.Google.com:443/search?q=fernleaf", "www.google.com"),
    ("http://news.example.org./item?id=1", "news.example.org"),
    ("android-app://com.google.android.gm/", "com.google.android.gm"),
    ("http://localhost/other-page", ""),  # our own site (the test client's host): internal navigation
    ("https://www.localhost/", ""),  # www. or not, the same site
    ("not a url", ""), ("https://[::1", ""), ("https://exa mple.com/", ""), (None, ""), ("", ""),
])
def test_only_the_referring_host_is_kept_and_our_own_is_none(app, client, clock, referrer, host):
    assert beacon(client, path="/", referrer=referrer).status_code == 204
    assert [r["referrer_host"] for r in rows(app)] == [host]


def test_the_sites_configured_hosts_are_not_referrers(make_app, clock):
    client = make_app(site_url="https://www.fernleaf.example",
                      allowed_origins="https://shop.fernleaf.example").test_client()
    for referrer in ("https://www.fernleaf.example/blog/", "https://fernleaf.example/",
                     "https://shop.fernleaf.example/basket"):
        beacon(client, referrer=referrer)
    app = client.application
    assert counts(app) == {home(): (3, 1)}


def test_unknown_keys_are_ignored_and_never_stored(app, client, clock):
    response = beacon(client, {"path": "/", "email": "ada@example.com", "ip": "192.0.2.55",
                               "utm_term": "secret-term", "views": 1000})
    assert response.status_code == 204
    assert counts(app) == {home(): (1, 1)}
    assert "ada@example.com" not in repr(rows(app)) and "secret-term" not in repr(rows(app))


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "text/plain", "application/json"])
def test_text_plain_and_json_bodies_are_both_read(app, client, clock, content_type):
    assert beacon(client, content_type=content_type).status_code == 204
    assert counts(app) == {home(): (1, 1)}


def test_malformed_bodies_are_refused(app, client, clock):
    post = lambda data, content_type="text/plain": client.post(  # noqa: E731
        "/api/views", data=data, content_type=content_type, headers={"User-Agent": FIREFOX})
    assert post("{").status_code == 400
    assert post("[1, 2]").json == {"error": "The body must be a JSON object."}
    assert post('"/"').status_code == 400
    assert post("path=/", "application/x-www-form-urlencoded").status_code == 415
    too_big = post(json.dumps({"path": "/", "padding": "x" * 9000}))
    assert too_big.status_code == 413 and too_big.is_json
    assert post(json.dumps({"path": "/", "padding": "x" * 70000})).status_code == 413
    assert rows(app) == []


# --- the promise: no identifier next to the counts ---------------------------------------

def test_no_ip_user_agent_or_hash_is_written_next_to_the_counts(app, client, clock):
    agents = (FIREFOX, SAFARI)
    ips = ("198.51.100.23", "2001:db8::7")
    for ip in ips:
        for ua in agents:
            beacon(client, ip=ip, ua=ua, path="/services/", referrer="https://duckduckgo.com/",
                   utm_source="newsletter")
    keys = {k["key"] for k in rows(app, daily_visitors) + rows(app, daily_visits)}
    salt = rows(app, daily_salts)[0]["salt"]
    assert len(keys) == 4 * 9  # per visitor: its row's, its visit's page, six entry values, its visit
    stored = rows(app)
    assert len(stored) == 1 and (stored[0]["views"], stored[0]["visitors"], stored[0]["visits"]) == (4, 4, 4)
    assert set(page_views.c.keys()) == {"id", "day", *ROW[1:], "views", "visitors", "visits"}
    kept_visits = rows(app, visits)
    assert len(kept_visits) == 4 and {v["views"] for v in kept_visits} == {1}
    assert set(visits.c.keys()) == {"id", "day", "entry_page", *ROW[2:], "views", "new_visitor",
                                    *(f"{name}_visitor" for name in ("source", "medium", "campaign", "referrer",
                                                                     "landing"))}
    secrets = [*ips, *agents, "Firefox", "Safari", "198.51.100", "2001:db8", salt, *keys]
    for row in stored + kept_visits:
        for column, value in row.items():
            for secret in secrets:
                assert secret not in str(value), f"{column} holds {secret!r}"
            assert not re.fullmatch(r"[0-9a-f]{32,}", str(value)), f"{column} looks like a hash"


def test_the_first_views_of_a_day_from_many_processes_make_one_salt(app, clock):
    """Writers racing on a new day: one salt, every view and visitor counted once."""
    engine, tz = app.extensions["capture"].engine, app.extensions["capture"].settings.timezone
    start = threading.Barrier(8)
    errors = []

    def view(n: int) -> None:
        try:
            start.wait()
            count_view(engine, View("/"), (f"192.0.2.{n}", FIREFOX, "localhost"), MONDAY, tz)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=view, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(rows(app, daily_salts)) == 1
    assert counts(app) == {home(): (8, 8)}


# --- the endpoint around the count ---------------------------------------------------------

def test_views_have_their_own_rate_limit_per_ip(make_app, clock):
    client = make_app(views_ratelimit="2 per minute").test_client()
    codes = [beacon(client).status_code for _ in range(3)]
    other = beacon(client, ip="203.0.113.50")
    limited = beacon(client)
    assert codes == [204, 204, 429] and other.status_code == 204
    assert limited.is_json and limited.headers.get("Retry-After")
    assert counts(client.application) == {home(): (3, 2)}


def test_the_submission_limit_does_not_apply_to_views(make_app, clock):
    client = make_app(ratelimit="1 per minute", views_ratelimit="").test_client()
    assert {beacon(client).status_code for _ in range(5)} == {204}


def test_origins_like_the_form_api(make_app, clock):
    client = make_app(allowed_origins="https://www.fernleaf.example").test_client()
    foreign = beacon(client, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "Access-Control-Allow-Origin" not in foreign.headers
    allowed = beacon(client, headers={"Origin": "https://www.fernleaf.example"})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://www.fernleaf.example"
    preflight = client.options("/api/views", headers={"Origin": "https://www.fernleaf.example",
                                                      "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert client.options("/api/views", headers={"Origin": "https://evil.example"}).status_code == 403
    assert counts(client.application) == {home(): (1, 1)}


def test_a_database_failure_is_a_503_not_a_500(app, client, clock, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken(*args):
        raise OperationalError("INSERT", {}, Exception("down"))
    monkeypatch.setattr(beacons, "count_view", broken)
    response = beacon(client)
    assert response.status_code == 503 and response.is_json


def test_real_answers_match_the_description(make_app, clock):
    client = make_app(views_ratelimit="7 per minute").test_client()
    spec = client.get("/api/openapi.json").json
    answers = [beacon(client), beacon(client, path="//evil"), beacon(client, ["/"]),
               beacon(client, content_type="application/xml"),
               beacon(client, headers={"Origin": "https://evil.example"}),
               beacon(client, {"path": "/", "x": "y" * 9000}), beacon(client), beacon(client)]
    assert [a.status_code for a in answers] == [204, 400, 400, 415, 403, 413, 204, 429]
    for answer in answers:
        check(spec, "/api/views", "post", answer)


# --- retention ----------------------------------------------------------------------------

def test_retention_forgets_a_finished_days_salt_when_no_view_came_after_it(app, client, clock):
    beacon(client)
    ext = app.extensions["capture"]
    keep = ext.settings.retention
    keys = len(rows(app, daily_visitors)) + len(rows(app, daily_visits))
    done = erasure.apply_retention(ext.engine, ext.schema, keep, MONDAY + timedelta(hours=1))
    assert (done["visitor_salts_deleted"], done["visitor_keys_deleted"]) == (0, 0)  # the day is not over
    done = erasure.apply_retention(ext.engine, ext.schema, keep, TUESDAY)
    assert (done["visitor_salts_deleted"], done["visitor_keys_deleted"]) == (1, keys)
    assert rows(app, daily_salts) == [] and rows(app, daily_visitors) == [] and rows(app, daily_visits) == []
    assert counts(app) == {home(): (1, 1)} and len(rows(app, visits)) == 1  # the counts stay


def test_retention_deletes_counts_older_than_kept(app, client, clock):
    ext = app.extensions["capture"]
    keep = ext.settings.retention
    old = MONDAY - keep.page_views - timedelta(days=1)
    for moment in (old, MONDAY):
        clock(moment)
        beacon(client)
    done = erasure.apply_retention(ext.engine, ext.schema, keep, MONDAY)
    assert (done["page_views_deleted"], done["visits_deleted"]) == (1, 1)
    assert counts(app) == {home(): (1, 1)} and [v["day"] for v in rows(app, visits)] == [MONDAY.date()]
    with ext.engine.connect() as conn:  # and the run's log counts no lead for it
        assert conn.execute(text("SELECT leads FROM privacy_log")).scalar() == 0


def test_the_privacy_page_states_what_the_code_keeps():
    keep = load_settings({"secret_key": TEST_SECRET}, environ={}).retention
    page = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", page, re.M))
    assert table["Visit counts (per day, page, referring website and campaign)"].startswith(
        f"{round(keep.page_views.days / 365.25)} years")
    assert table["The day's random key and visitor codes, used to count different visitors"].startswith(
        "until the end of that day")
    for promise in ("utm_source", "Do Not Track", "Global Privacy Control", "No cookie is set"):
        assert promise in page, promise


# --- only the site's own pages --------------------------------------------------------------

PAGES = ["/", "/services/", "/services/starter-site/", "/blog/archive/2026/", "/thank-you/contact/"]


@pytest.fixture
def listed(tmp_path) -> str:
    """A list of pages as the site build writes it (sitepaths.write)."""
    path = tmp_path / "site-paths.json"
    path.write_text(json.dumps({"pages": PAGES}))
    return str(path)


@pytest.mark.parametrize("sent, stored", [
    ("/", "/"), ("/services/", "/services/"), ("/services", "/services/"),
    ("/services/index.html", "/services/"), ("/index.html", "/"), ("/thank-you/contact/", "/thank-you/contact/"),
    ("/services/?utm_source=x", "/services/"), ("/%73ervices/", "/services/"),
    ("/nope/", None), ("/404.html", None), ("/services/starter", None),
    ("/wp-login.php", None), ("/services//", None), ("/blog/archive/2025/", None),
], ids=lambda v: str(v))
def test_only_pages_the_site_has_are_stored(make_app, clock, listed, sent, stored):
    app = make_app(site_paths=listed)
    response = beacon(app.test_client(), path=sent)
    assert response.status_code == 204 and response.data == b""  # the same answer either way
    assert [r["path"] for r in rows(app)] == ([stored] if stored else [])
    if not stored:  # and nothing else left behind: no salt made, no key
        assert rows(app, daily_salts) == [] and rows(app, daily_visitors) == []


def test_the_list_in_the_served_site_folder_is_used_too(make_app, clock, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>Home</title>")
    app = make_app(site_dir=str(site))
    assert any("no site-paths.json" in w for w in app.extensions["capture"].settings.warnings)
    beacon(app.test_client(), path="/made-up/")
    assert [r["path"] for r in rows(app)] == ["/made-up/"]  # no list: counted, said at start

    sitepaths.write(site)
    app = make_app(site_dir=str(site))
    beacon(app.test_client(), path="/made-up/")
    beacon(app.test_client(), path="/")
    assert sorted(r["path"] for r in rows(app)) == ["/", "/made-up/"]  # the second app stored only "/"


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"), ("{", "is not JSON"), ('{"pages": []}', "has no list of pages"),
    ('["/"]', "has no list of pages"), ('{"pages": ["about/"]}', "has no list of pages")])
def test_a_missing_or_broken_list_stops_the_start_naming_the_setting(tmp_path, content, message):
    path = tmp_path / "site-paths.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=rf"^CAPTURE_SITE_PATHS: .*{message}"):
        load_settings({"secret_key": TEST_SECRET, "site_paths": str(path)}, environ={})


def test_the_build_lists_every_page_as_location_pathname_gives_it(tmp_path):
    for name in ("index.html", "404.html", "about/index.html", "blog/archive/2026/index.html",
                 "caf\u00e9/index.html", "old-page.html", "assets/logo.svg", "sitemap.xml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert sitepaths.page_paths(tmp_path) == ["/", "/about/", "/blog/archive/2026/", "/caf%C3%A9/", "/old-page.html"]
    assert sitepaths.page_paths(tmp_path, "/docs/")[:2] == ["/docs/", "/docs/about/"]
    assert sitepaths.load(sitepaths.write(tmp_path)) == frozenset(sitepaths.page_paths(tmp_path))


# --- what one address can add in a day ------------------------------------------------------

def test_rotating_user_agents_add_no_more_visitors_than_the_allowance(make_app, clock):
    app = make_app(views_new_limit="3 per day")
    client = app.test_client()
    for n in range(6):
        assert beacon(client, ua=f"{FIREFOX} rotating/{n}").status_code == 204
    assert counts(app) == {home(): (6, 3)}  # every view counts; 3 new visitors, not 6
    assert len(rows(app, daily_visits)) == len(rows(app, visits)) == 3  # and 3 visits
    assert len(rows(app, daily_visitors)) == 3 * 8  # each one's keys (as on any first view)
    beacon(client, ua=FIREFOX, ip="203.0.113.50")  # someone else has their own allowance
    assert counts(app) == {home(): (7, 4)}


@pytest.mark.parametrize("header", [{}, {"DNT": "1"}])
def test_made_up_campaigns_and_referrers_add_no_more_rows_than_the_allowance(make_app, clock, header):
    app = make_app(views_new_limit="3 per day")
    client = app.test_client()
    for n in range(4):
        beacon(client, headers=header, utm_campaign=f"junk-{n}")
        beacon(client, headers=header, referrer=f"https://junk-{n}.example/")
    assert len(rows(app)) == 3  # with or without a visitor key, 3 new things, then nothing new
    for n in range(3):  # the rows that exist still count this address's views
        beacon(client, headers=header, utm_campaign="junk-0")
    assert counts(app)[home(MONDAY.date(), "/", "", "", "", "junk-0")][0] == 4


def test_the_allowance_starts_again_the_next_business_day(make_app, clock):
    app = make_app(views_new_limit="2 per day")
    client = app.test_client()
    for n in range(3):
        beacon(client, utm_campaign=f"c{n}")
    assert len(rows(app)) == 2
    clock(TUESDAY)  # no waiting: the day comes from the injected clock
    for n in range(3):
        beacon(client, utm_campaign=f"c{n}")
    assert sorted((r["day"], r["utm_campaign"]) for r in rows(app)) == [
        (MONDAY.date(), "c0"), (MONDAY.date(), "c1"), (TUESDAY.date(), "c0"), (TUESDAY.date(), "c1")]


def test_the_default_allowance_is_on_and_empty_lifts_it(make_app, clock):
    assert make_app().extensions["capture"].settings.views_new_limit == "300 per day"
    app = make_app(views_new_limit="")
    client = app.test_client()
    for n in range(5):
        beacon(client, ua=f"{FIREFOX} rotating/{n}")
    assert counts(app) == {home(): (5, 5)}


@pytest.mark.redis
def test_the_allowance_is_shared_through_redis_and_holds_no_address_in_the_database(make_app, clock, redis_prefix):
    settings = {"views_new_limit": "2 per day", "ratelimit_storage": REDIS_URL, "ratelimit_prefix": redis_prefix}
    first, second = make_app(**settings), make_app(**settings)
    for n, app in enumerate((first, second, first)):
        beacon(app.test_client(), ua=f"{FIREFOX} rotating/{n}")
    assert counts(first) == {home(): (3, 2)}  # one database, one allowance across both "processes"
    assert redis.Redis.from_url(REDIS_URL).keys(f"*{redis_prefix}*views-new*")
