"""The visitor's manage pages (capture/booking/pages.py): keep, move, cancel, in the site's own page.

Each test runs on SQLite and PostgreSQL (`make_app` uses `database_url`).
"""
from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from capture.booking import appointments
from capture.core import tokens
from capture.core.clock import utcnow
from capture.db.models import bookings, events, outbox
from capture.privacy import erasure
from tests.booking.test_appointments import MAYA, TOM, booked_lead, ext, first_slots, visitor
from tests.booking.test_appointments import one_host  # noqa: F401  (fixture)
from tests.conftest import TEST_SECRET
from tests.desk.test_desk import CSRF, sign_in

pytestmark = pytest.mark.usefixtures("clock")

# What MkDocs writes for the site's not-found page, cut down to the parts the shell keeps.
BUILT_404 = """<!doctype html>
<html lang="en" class="no-js">
  <head>
    <meta charset="utf-8">
    <meta name="description" content="The site's own description">
    <title>Page not found - Fernleaf Studio</title>
    <link rel="stylesheet" href="/assets/stylesheets/main.57a0d79d.min.css">
    <link rel="stylesheet" href="/assets/stylesheets/site.css">
    <meta name="robots" content="noindex">
  </head>
  <body dir="ltr">
    <input class="md-toggle" data-md-toggle="drawer" type="checkbox" id="__drawer">
    <header class="md-header"><a class="fl-header-cta" href="/consultation/">Book a consultation</a></header>
    <div class="md-container"><main class="md-main"><div class="md-content">
      <article class="md-content__inner md-typeset"><h1>Sorry, we cannot find that page</h1></article>
    </div></main>
    <footer class="md-footer"><p>14 Quayside Works, Welsh Back</p></footer></div>
  <script src="/assets/javascripts/forms.js" defer></script>
  </body>
</html>
"""


def path_for(made: dict, action: str, email: str = "v1@example.com") -> str:
    return "/actions/booking/" + tokens.booking_token(TEST_SECRET, made["id"], action, email)


def form_token(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True))[1]


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def count(app, table) -> int:
    with ext(app).engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def block(app, host: str, slot: dict, lead_id: str) -> None:
    """A meeting of `host` at `slot` (another lead's, as far as the slot is concerned)."""
    with ext(app).engine.begin() as conn:
        conn.execute(bookings.insert(), {
            "id": "blocker", "lead_id": lead_id, "host": host, "status": "booked",
            "starts_at": datetime.fromisoformat(slot["start"]), "ends_at": datetime.fromisoformat(slot["end"]),
            "sequence": 0, "created_at": utcnow(), "changed_at": None})


@pytest.fixture
def built_site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>Home</title>")
    (site / "404.html").write_text(BUILT_404)
    return site


# --- the site's own page -------------------------------------------------------------

def test_the_pages_wear_the_built_sites_header_footer_and_style_sheets(make_app, one_host, built_site):
    app = make_app(sales=str(one_host), site_dir=str(built_site))
    client = app.test_client()
    slot = first_slots(client)[0]["start"]
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slot)).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    for action in ("move", "cancel"):
        page = client.get(path_for(made, action)).get_data(as_text=True)
        assert '<header class="md-header">' in page and "14 Quayside Works" in page
        assert 'href="/assets/stylesheets/main.57a0d79d.min.css"' in page
        assert 'href="/assets/stylesheets/booking.css"' in page
        assert page.count("javascripts/forms.js") == 1  # the site's script, once
        assert page.count("<title>") == 1 and "Page not found" not in page and "Sorry, we cannot" not in page
        assert '<meta name="robots" content="noindex, nofollow">' in page and "site's own description" not in page
        assert page.index("md-content__inner") < page.index("<h1>") < page.index('<footer class="md-footer">')


def test_without_a_built_site_the_plain_look_still_loads_the_sites_script_and_booking_style(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    page = client.get(path_for(appointments.current(ext(app).engine, lead_id), "move")).get_data(as_text=True)
    assert '<header class="fl-plain-header">' in page and "md-header" not in page
    assert page.count('src="/assets/javascripts/forms.js"') == 1 and "/assets/stylesheets/booking.css" in page
    assert "http" not in re.sub(r'href="https?://[^"]*fernleaf[^"]*"', "", page.split("<body>")[0])


# --- keep, move, cancel --------------------------------------------------------------------

def test_both_pages_offer_keep_move_and_cancel_and_keep_changes_nothing(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    jobs = count(app, outbox)
    for action in ("move", "cancel"):
        page = client.get(path_for(made, action)).get_data(as_text=True)
        keep, move, cancel = re.findall(r'<a class="md-button" href="([^"]+)"', page)
        assert keep.endswith("/keep") and "/actions/booking/" in move and "/actions/booking/" in cancel
        assert tokens.read_booking(TEST_SECRET, move.rsplit("/", 1)[1]).action == "move"
        assert tokens.read_booking(TEST_SECRET, cancel.rsplit("/", 1)[1]).action == "cancel"
        kept = client.get(keep.removeprefix("http://127.0.0.1:8000"))
        assert kept.status_code == 200 and "Your consultation stands" in text_of(kept)
        assert "Maya Patel" in text_of(kept) and "London time" in text_of(kept)
    assert appointments.current(ext(app).engine, lead_id) == made and count(app, outbox) == jobs


def test_a_move_keeps_the_host_when_they_are_free_then(make_app):
    app = make_app()  # two hosts: Maya, then Tom
    client = app.test_client()
    slots = first_slots(client, days=14)
    client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"]))  # Maya's
    lead_id = client.post("/api/forms/consultation", json=visitor(2, slots[0]["start"])).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    assert made["host"] == TOM
    # Nobody has a meeting on the last day: a new booking there would go to Maya, the first host.
    path = path_for(made, "move", "v2@example.com")
    target = slots[-1]["start"].replace("+00:00", "Z")
    done = client.post(path, data={"csrf_token": form_token(client, path), "slot": target})
    assert done.status_code == 200 and "Your consultation has a new time" in text_of(done)
    assert "Tom Reid" in text_of(done) and "not free then" not in text_of(done)
    moved = appointments.current(ext(app).engine, lead_id)
    assert (moved["host"], f"{moved['starts_at']:%Y-%m-%dT%H:%M:%SZ}") == (TOM, target)


def test_a_move_to_a_time_the_host_is_busy_says_who_the_meeting_is_with_now(make_app):
    app = make_app()
    client = app.test_client()
    slots = first_slots(client, days=14)
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slots[0]["start"])).json["id"]
    made = appointments.current(ext(app).engine, lead_id)
    assert made["host"] == MAYA
    block(app, MAYA, slots[-3], lead_id)
    path = path_for(made, "move")
    done = client.post(path, data={"csrf_token": form_token(client, path), "slot": slots[-3]["start"]})
    assert done.status_code == 200
    assert "Your meeting is now with Tom Reid, as Maya Patel is not free then." in text_of(done)
    assert appointments.get(ext(app).engine, made["id"])["host"] == TOM


def test_the_move_page_groups_times_by_day_first_day_open_with_the_pickers_contract(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    page = client.get(path_for(appointments.current(ext(app).engine, lead_id), "move")).get_data(as_text=True)
    assert '<div class="capture-picker" data-move-picker data-slot-field="slot">' in page
    days = re.findall(r"<details( open)?", page)
    assert len(days) >= 10 and days[0] == " open" and set(days[1:]) == {""}
    values = re.findall(r'<input type="radio" name="slot" value="([^"]+)"', page)
    assert len(values) > 100 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", v) for v in values)
    # The button comes straight after the times, and stays in view (sticky) while they scroll.
    assert re.search(r'</fieldset>\s*<p class="fl-submit fl-submit--sticky"><button type="submit"', page)


def test_times_are_shown_in_the_visitors_zone_naming_it(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    with ext(app).engine.begin() as conn:
        conn.execute(update(bookings).where(bookings.c.lead_id == lead_id).values(visitor_zone="America/New_York"))
    made = appointments.current(ext(app).engine, lead_id)
    page = text_of(client.get(path_for(made, "move")))
    start = datetime.fromisoformat(slot)
    ny = start.astimezone(ZoneInfo("America/New_York"))
    assert f"{ny:%H:%M}–" in page and "New York time" in page and "times in New York time" in page
    assert "London time" in page  # the studio's time beside it, as it differs


def test_cancelling_keeps_the_reason_and_the_desk_timeline_shows_it_escaped(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    path = path_for(made, "cancel")
    hostile = "We found <b>someone</b> cheaper\x00 & <script>alert('x')</script>\r\nThanks"
    done = client.post(path, data={"csrf_token": form_token(client, path), "reason": hostile})
    assert done.status_code == 200 and "Your consultation is cancelled" in text_of(done)
    stored = appointments.get(ext(app).engine, made["id"])
    assert stored["status"] == "cancelled"
    assert stored["cancel_reason"] == "We found <b>someone</b> cheaper & <script>alert('x')</script>\nThanks"
    sign_in(app, client, MAYA)
    lead_page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert "Their reason: We found &lt;b&gt;someone&lt;/b&gt; cheaper &amp; &lt;script&gt;" in lead_page
    assert "<script>alert" not in lead_page and "<b>someone" not in lead_page


def test_a_cancel_without_a_reason_stores_none_and_a_too_long_one_is_a_422_naming_the_field(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    path = path_for(made, "cancel")
    token = form_token(client, path)
    long = client.post(path, data={"csrf_token": token, "reason": "x" * 1001})
    assert long.status_code == 422 and "Please keep the reason under 1,000 characters" in text_of(long)
    assert 'aria-invalid="true"' in long.get_data(as_text=True)
    assert appointments.current(ext(app).engine, lead_id) is not None
    assert client.post(path, data={"csrf_token": token, "reason": "  "}).status_code == 200
    assert appointments.get(ext(app).engine, made["id"])["cancel_reason"] is None


def test_after_cancelling_the_page_links_to_the_sites_booking_page_not_the_requests_host(make_app, one_host):
    app = make_app(sales=str(one_host), site_url="https://www.fernleaf.example")
    client = app.test_client()
    slot = first_slots(client)[0]["start"]
    lead_id = client.post("/api/forms/consultation", json=visitor(1, slot)).json["id"]
    path = path_for(appointments.current(ext(app).engine, lead_id), "cancel")
    done = client.post(path, data={"csrf_token": form_token(client, path)},
                       headers={"Host": "evil.example"}, base_url="http://evil.example")
    page = done.get_data(as_text=True)
    assert '<a class="md-button md-button--primary" href="https://www.fernleaf.example/consultation/">' \
           'Book a new time</a>' in page
    again = client.get(path)  # the link again, later: cancelled, and the same way back
    assert again.status_code == 410 and "https://www.fernleaf.example/consultation/" in again.get_data(as_text=True)
    assert "evil.example" not in page


# --- what may act ------------------------------------------------------------------------

def test_get_and_head_never_act(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    before = (count(app, outbox), count(app, events))
    for path in (path_for(made, "cancel"), path_for(made, "move"), path_for(made, "cancel") + "/keep"):
        for method in (client.get, client.head):
            assert method(path, query_string={"slot": slot, "reason": "x"}).status_code == 200
    assert appointments.current(ext(app).engine, lead_id) == made
    assert (count(app, outbox), count(app, events)) == before


def test_a_post_without_the_form_token_or_with_another_links_is_refused(make_app):
    app = make_app()
    client = app.test_client()
    slots = first_slots(client)
    ids = [client.post("/api/forms/consultation", json=visitor(n, slots[n]["start"])).json["id"] for n in (1, 2)]
    mine, theirs = (appointments.current(ext(app).engine, i) for i in ids)
    cancel, their_cancel = path_for(mine, "cancel"), path_for(theirs, "cancel", "v2@example.com")
    assert client.post(cancel, data={}).status_code == 400
    assert client.post(cancel, data={"csrf_token": "forged"}).status_code == 400
    stolen = form_token(client, their_cancel)  # a real token, served for the other booking's page
    assert client.post(cancel, data={"csrf_token": stolen}).status_code == 400
    # My address cannot open the other booking, even with a well-signed link.
    assert client.get(path_for(theirs, "cancel", "v1@example.com")).status_code == 404
    assert client.post(cancel + "/keep", data={}).status_code == 405
    assert all(appointments.current(ext(app).engine, i) is not None for i in ids)


def test_erasing_the_person_removes_their_reason_and_zone_from_the_booking_and_the_timeline(make_app, one_host):
    app, client, slot, lead_id = booked_lead(make_app, one_host)
    made = appointments.current(ext(app).engine, lead_id)
    with ext(app).engine.begin() as conn:
        conn.execute(update(bookings).where(bookings.c.id == made["id"]).values(visitor_zone="America/New_York"))
    path = path_for(made, "cancel")
    client.post(path, data={"csrf_token": form_token(client, path), "reason": "My mother is in hospital"})
    assert appointments.get(ext(app).engine, made["id"])["visitor_zone"] == "America/New_York"
    erasure.erase(ext(app).engine, ext(app).schema, "v1@example.com", MAYA, utcnow(), sales=ext(app).sales,
                  domain=ext(app).mail_domain)
    erased = appointments.get(ext(app).engine, made["id"])
    assert (erased["cancel_reason"], erased["visitor_zone"]) == (None, None)
    with ext(app).engine.connect() as conn:
        notes = [n for (n,) in conn.execute(select(events.c.note).where(events.c.lead_id == lead_id))]
    assert not any("hospital" in (n or "") for n in notes)
    assert "cancelled the consultation [their reason was removed at erasure]" in notes
