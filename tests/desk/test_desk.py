"""The desk: sign-in by magic link, sessions, roles, the inbox and the lead page."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from capture.pipeline import stages
from capture.desk import signin
from capture.core import tokens
from capture.core.clock import utcnow
from capture.db.models import leads, outbox
from capture.pipeline.stages import Change
from capture.db.store import get_lead

MAYA, TOM, PRIYA = "maya@fernleaf.example", "tom@fernleaf.example", "priya@fernleaf.example"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/desk/sign-in") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def link_for(app, email: str, now=None) -> str:
    """The sign-in URL path the email to `email` carries (made as the sign-in form makes it)."""
    ext = app.extensions["capture"]
    assert signin.request_link(ext.engine, ext.sales, email, ext.mail_domain, now or utcnow())
    with ext.engine.connect() as conn:
        link_id = conn.execute(select(outbox.c.ref).where(outbox.c.kind == "desk_sign_in")
                               .order_by(outbox.c.id.desc())).scalar()
    return f"/desk/sign-in/{tokens.sign_in_token(ext.settings.secret_key, link_id)}"


def sign_in(app, client, email: str, now=None):
    path = link_for(app, email, now)
    response = client.post(path, data={"csrf_token": csrf(client, path)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def post(client, consultation, **changes) -> str:
    return client.post("/api/forms/consultation", json={**consultation, **changes}).json["id"]


# --- nothing without a session ----------------------------------------------------------

@pytest.mark.parametrize("path, sign_in", [("/desk/", "/desk/sign-in"),
                                           ("/desk/leads/anything", "/desk/sign-in?next=/desk/leads/anything")])
def test_no_desk_page_without_a_session(client, path, sign_in):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == sign_in
    assert "Set-Cookie" not in response.headers  # the page asked for rides in the URL, not a cookie


def test_no_change_without_a_session_even_with_a_csrf_token(app, client, consultation):
    lead_id = post(client, consultation)
    token = csrf(client)
    for action, data in (("status", {"status": "contacted"}), ("note", {"note": "x"}), ("assign", {"owner": TOM})):
        response = client.post(f"/desk/leads/{lead_id}/{action}", data={**data, "csrf_token": token})
        assert response.status_code == 302
    assert get_lead(app.extensions["capture"].engine, lead_id)["status"] == "new"
    assert stages.timeline(app.extensions["capture"].engine, lead_id) == []


def test_a_post_without_a_csrf_token_is_a_clear_400(app, client, consultation):
    sign_in(app, client, MAYA)
    lead_id = post(client, consultation)
    response = client.post(f"/desk/leads/{lead_id}/status", data={"status": "contacted"})
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    assert get_lead(app.extensions["capture"].engine, lead_id)["status"] == "new"


def test_the_api_and_health_set_no_cookie_and_the_desk_is_never_cached(app, client, consultation):
    assert "Set-Cookie" not in client.post("/api/forms/consultation", json=consultation).headers
    assert "Set-Cookie" not in client.get("/api/health").headers
    sign_in(app, client, MAYA)
    response = client.get("/desk/")
    assert response.headers["Cache-Control"] == "private, no-store"


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(app):
    client = app.test_client()
    cookie = client.get("/desk/sign-in", base_url="https://desk.example").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    plain = app.test_client().get("/desk/sign-in").headers["Set-Cookie"]
    assert "Secure" not in plain


# --- behind a TLS proxy -------------------------------------------------------------------

# What any TLS-terminating proxy sends (CAPTURE_TRUSTED_PROXIES=1); the browser sends no Referer.
PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "desk.fernleaf.example"}
OURS = "https://desk.fernleaf.example"


def proxied_csrf(client, path: str) -> str:
    return CSRF.search(client.get(path, headers=PROXIED).get_data(as_text=True)).group(1)


@pytest.mark.parametrize("origin", [None, OURS])
def test_behind_a_tls_proxy_the_desk_works_without_a_referer(make_app, consultation, origin):
    """Sign-in request, sign-in and a desk button over HTTPS, no Referer (with or without Origin)."""
    app = make_app(trusted_proxies="1")
    client = app.test_client()
    headers = {**PROXIED, **({"Origin": origin} if origin else {})}
    asked = client.post("/desk/sign-in", headers=headers,
                        data={"email": MAYA, "csrf_token": proxied_csrf(client, "/desk/sign-in")})
    assert asked.status_code == 200 and "Check your inbox" in asked.get_data(as_text=True)
    assert [j["recipient"] for j in sign_in_mail(app)] == [MAYA]
    path = link_for(app, MAYA)
    signed = client.post(path, data={"csrf_token": proxied_csrf(client, path)}, headers=headers)
    assert signed.status_code == 303, signed.get_data(as_text=True)
    lead_id = post(client, consultation)
    token = proxied_csrf(client, f"/desk/leads/{lead_id}")
    moved = client.post(f"/desk/leads/{lead_id}/status", headers=headers,
                        data={"status": "contacted", "csrf_token": token})
    assert moved.status_code == 303
    assert get_lead(app.extensions["capture"].engine, lead_id)["status"] == "contacted"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://desk.fernleaf.example",
                                    "https://desk.fernleaf.example.evil.example", "null"])
def test_a_post_from_another_origin_is_refused_even_with_a_token(make_app, consultation, origin):
    app = make_app(trusted_proxies="1")
    client = app.test_client()
    refused = client.post("/desk/sign-in", headers={**PROXIED, "Origin": origin},
                          data={"email": MAYA, "csrf_token": proxied_csrf(client, "/desk/sign-in")})
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    assert sign_in_mail(app) == []
    sign_in(app, client, MAYA)
    lead_id = post(client, consultation)
    token = csrf(client, f"/desk/leads/{lead_id}")
    refused = client.post(f"/desk/leads/{lead_id}/status", headers={**PROXIED, "Origin": origin},
                          data={"status": "contacted", "csrf_token": token})
    assert refused.status_code == 400
    assert get_lead(app.extensions["capture"].engine, lead_id)["status"] == "new"


def test_the_public_url_is_our_origin_too(make_app):
    """A proxy that passes its upstream's Host: the Origin may be CAPTURE_PUBLIC_URL's."""
    app = make_app(trusted_proxies="1", public_url="https://www.fernleaf.example")
    client = app.test_client()
    asked = client.post("/desk/sign-in", headers={"X-Forwarded-Proto": "https",
                                                  "Origin": "https://www.fernleaf.example"},
                        data={"email": MAYA, "csrf_token": csrf(client)})
    assert asked.status_code == 200


def test_desk_pages_send_one_referrer_policy_that_keeps_paths_to_ourselves(app, client):
    """Only the origin leaves a page (never a token in its path), and our own POSTs carry it."""
    path = link_for(app, MAYA)
    for page in ("/desk/sign-in", path):
        assert client.get(page).headers.getlist("Referrer-Policy") == ["strict-origin"]
    sign_in(app, client, MAYA)
    assert client.get("/desk/").headers.getlist("Referrer-Policy") == ["strict-origin"]


def test_desk_and_action_pages_cannot_be_framed_even_without_nginx(app, client, consultation):
    lead_id = post(client, consultation)
    action = f"/actions/{tokens.action_token(app.config['SECRET_KEY'], lead_id, 'contacted', MAYA)}"
    pages = ["/desk/sign-in", link_for(app, TOM), action, "/actions/not-a-token"]
    sign_in(app, client, MAYA)
    for page in pages + ["/desk/", f"/desk/leads/{lead_id}", "/desk/report"]:
        headers = client.get(page).headers
        assert headers.getlist("X-Frame-Options") == ["DENY"], page
        assert headers.getlist("Content-Security-Policy") == ["frame-ancestors 'none'"], page
    assert "X-Frame-Options" not in client.get("/api/health").headers  # nginx's, for the rest


# --- sign-in by magic link ---------------------------------------------------------------

def sign_in_mail(app) -> list[dict]:
    with app.extensions["capture"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.kind == "desk_sign_in")).mappings()]


def test_asking_for_a_link_looks_the_same_for_anyone_and_mails_only_the_team(app, client):
    token = csrf(client)
    pages = [client.post("/desk/sign-in", data={"email": email, "csrf_token": token})
             for email in ("Maya@Fernleaf.example", "stranger@example.com")]
    assert [p.status_code for p in pages] == [200, 200]
    texts = [p.get_data(as_text=True).replace("Maya@fernleaf.example", "X").replace("stranger@example.com", "X")
             for p in pages]
    assert texts[0] == texts[1] and "Check your inbox" in texts[0]
    assert [j["recipient"] for j in sign_in_mail(app) if j["status"] == "pending"] == [MAYA]


def test_a_link_signs_in_once_and_its_get_changes_nothing(app, client):
    path = link_for(app, TOM)
    page = client.get(path)
    assert page.status_code == 200 and "Sign in" in page.get_data(as_text=True)
    assert client.get("/desk/").status_code == 302  # the GET did not sign in
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    assert client.post(path, data={"csrf_token": token}).status_code == 303
    assert client.get("/desk/").status_code == 200
    other = app.test_client()
    again = other.post(path, data={"csrf_token": csrf(other, path)})
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)


def test_an_expired_or_tampered_link_is_refused(clock, app, client):
    path = link_for(app, TOM)
    signed = path.rsplit("/", 1)[1]
    tampered = client.get(f"/desk/sign-in/{signed[:-2]}xx")
    assert tampered.status_code == 404 and "not one of ours" in tampered.get_data(as_text=True)
    clock.advance(minutes=16)
    expired = client.get(path)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)


def test_a_bad_address_gets_a_field_message(client):
    response = client.post("/desk/sign-in", data={"email": "not an address", "csrf_token": csrf(client)})
    assert response.status_code == 422 and "Please enter your email address" in response.get_data(as_text=True)


def test_signing_out_ends_the_session(app, client):
    sign_in(app, client, MAYA)
    assert client.post("/desk/sign-out", data={"csrf_token": csrf(client, "/desk/")}).status_code == 303
    assert client.get("/desk/").status_code == 302


def ask_for_a_link_from(client, page: str, email: str) -> None:
    """Open a desk page signed out, follow it to the sign-in form and ask for a link there."""
    sign_in_page = client.get(page).headers["Location"]  # not signed in: sent to sign in, page in the URL
    form = client.get(sign_in_page).get_data(as_text=True)
    back = re.search(r'name="next" value="([^"]*)"', form)
    fields = {"email": email, "csrf_token": CSRF.search(form).group(1), **({"next": back[1]} if back else {})}
    assert client.post("/desk/sign-in", data=fields).status_code == 200


def test_after_signing_in_you_land_on_the_page_you_asked_for(app, client, consultation):
    lead_id = post(client, consultation)
    ask_for_a_link_from(client, f"/desk/leads/{lead_id}", TOM)
    assert sign_in(app, client, TOM).headers["Location"] == f"/desk/leads/{lead_id}"


def test_a_return_path_from_elsewhere_is_ignored(app, client):
    form = client.get("/desk/sign-in?next=https://evil.example/").get_data(as_text=True)
    assert 'name="next"' not in form
    client.post("/desk/sign-in", data={"email": TOM, "next": "//evil.example/desk/",
                                       "csrf_token": CSRF.search(form).group(1)})
    assert sign_in(app, client, TOM).headers["Location"] == "/desk/"


# --- the inbox ---------------------------------------------------------------------------------

def test_the_inbox_shows_my_leads_overdue_first_and_filters(app, client, consultation):
    engine = app.extensions["capture"].engine
    first = post(client, consultation, name="Early Bird")  # Maya (round robin)
    post(client, consultation, name="Tom's Lead")  # Tom
    third = post(client, consultation, name="Late Comer", company="Zebra Ltd")  # Maya
    with engine.begin() as conn:  # the first is past its deadline
        conn.execute(update(leads).where(leads.c.id == first).values(respond_by=utcnow() - timedelta(minutes=1)))
    sign_in(app, client, MAYA)
    page = client.get("/desk/").get_data(as_text=True)
    assert "My leads" in page and "Tom&#39;s Lead" not in page
    assert page.index("Early Bird") < page.index("Late Comer")  # overdue first, though older
    assert page.count("badge overdue") == 1
    everyone = client.get("/desk/?owner=").get_data(as_text=True)
    assert "Tom&#39;s Lead" in everyone
    found = client.get("/desk/?owner=&q=zebra").get_data(as_text=True)
    assert "Late Comer" in found and "Early Bird" not in found
    stages.change_status(engine, app.extensions["capture"].sales, third, Change("contacted"), MAYA)
    contacted = client.get("/desk/?status=contacted").get_data(as_text=True)
    assert "Late Comer" in contacted and "Early Bird" not in contacted
    assert "Early Bird" in client.get("/desk/?overdue=1").get_data(as_text=True)


def test_search_wildcards_are_literal(app, client, consultation):
    post(client, consultation, name="Ada Lovelace")
    sign_in(app, client, MAYA)
    assert "Ada Lovelace" not in client.get("/desk/?owner=&q=%25").get_data(as_text=True)


@pytest.mark.parametrize("query, found", [
    ("100%", "100% Growth"), ("100% growth", "100% Growth"), ("a_b", "Ada a_b Ltd"), ("A_B", "Ada a_b Ltd"),
    ("x/y", "x/y Partners"), ("a%b", None), ("growth\\", None), ("_", "Ada a_b Ltd"),
])
def test_search_takes_percent_underscore_and_slash_literally(app, client, consultation, query, found):
    # "100%" must not match "1000 Growth", nor "a_b" match "Aab": LIKE's wildcards are plain text.
    for company in ("100% Growth", "1000 Growth", "Ada a_b Ltd", "Aab Ltd", "x/y Partners"):
        post(client, consultation, name=f"Lead of {company}", company=company)
    sign_in(app, client, MAYA)
    page = client.get("/desk/", query_string={"owner": "", "q": query}).get_data(as_text=True)
    shown = {company for company in ("100% Growth", "1000 Growth", "Ada a_b Ltd", "Aab Ltd", "x/y Partners")
             if f"Lead of {company}" in page}
    assert shown == ({found} if found else set())


def test_visitor_text_is_escaped_on_every_desk_page(app, client, consultation):
    lead_id = post(client, consultation, name="<script>alert(1)</script>", message="<img src=x onerror=alert(2)>")
    sign_in(app, client, MAYA)
    for path in ("/desk/?owner=", f"/desk/leads/{lead_id}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- the lead page and roles -----------------------------------------------------------------

def test_a_salesperson_records_the_journey_on_the_lead_page(app, client, consultation):
    lead_id = post(client, consultation)
    sign_in(app, client, TOM)
    token = csrf(client, f"/desk/leads/{lead_id}")
    for data in ({"status": "contacted"}, {"status": "consultation", "note": "Call on Tuesday"},
                 {"status": "won", "value": "8,500"}):
        assert client.post(f"/desk/leads/{lead_id}/status", data={**data, "csrf_token": token}).status_code == 303
    refused = client.post(f"/desk/leads/{lead_id}/status", data={"status": "lost", "csrf_token": token})
    assert refused.status_code == 422 and "needs a reason" in refused.get_data(as_text=True)
    client.post(f"/desk/leads/{lead_id}/note", data={"note": "Deposit paid", "csrf_token": token})
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    for text in ("new → contacted", "contacted → consultation", "consultation → won (£8,500)",
                 "Call on Tuesday", "Deposit paid", "Tom Reid", "Value: <strong>£8,500</strong>",
                 "notify sales", "Ada Lovelace"):
        assert text in page, text
    lead = get_lead(app.extensions["capture"].engine, lead_id)
    assert (lead["status"], lead["deal_value"]) == ("won", 850000)


def test_marketing_looks_but_does_not_change(app, client, consultation):
    lead_id = post(client, consultation)
    sign_in(app, client, PRIYA)
    page = client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)
    assert "Ada Lovelace" in page and "Mark as won" not in page and "Move the call" not in page
    token = csrf(client, f"/desk/leads/{lead_id}")
    response = client.post(f"/desk/leads/{lead_id}/status", data={"status": "contacted", "csrf_token": token})
    assert response.status_code == 403
    assert get_lead(app.extensions["capture"].engine, lead_id)["status"] == "new"


def test_only_managers_reassign(app, client, consultation):
    lead_id = post(client, consultation)  # Maya's
    sign_in(app, client, TOM)
    token = csrf(client, f"/desk/leads/{lead_id}")
    assert client.post(f"/desk/leads/{lead_id}/assign", data={"owner": TOM, "csrf_token": token}).status_code == 403
    manager = app.test_client()
    sign_in(app, manager, MAYA)
    token = csrf(manager, f"/desk/leads/{lead_id}")
    assert manager.post(f"/desk/leads/{lead_id}/assign", data={"owner": TOM, "csrf_token": token}).status_code == 303
    assert get_lead(app.extensions["capture"].engine, lead_id)["owner"] == TOM


def test_someone_removed_from_the_team_is_signed_out(make_app, tmp_path, consultation):
    app = make_app()
    client = app.test_client()
    sign_in(app, client, TOM)
    smaller = (tmp_path / "sales.yml")
    from tests.conftest import ROOT
    smaller.write_text((ROOT / "sales.yml").read_text().replace(
        "  - name: Tom Reid\n    email: tom@fernleaf.example\n    roles: [sales, host]\n", "").replace(
        "members: [maya@fernleaf.example, tom@fernleaf.example]", "members: [maya@fernleaf.example]"))

    def status_with_the_cookie(other_app) -> int:
        jar = other_app.test_client()
        for cookie in client._cookies.values():
            jar.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        return jar.get("/desk/").status_code
    assert status_with_the_cookie(make_app()) == 200  # the same session, the same team: still in
    assert status_with_the_cookie(make_app(sales=str(smaller))) == 302


def test_signing_out_ends_a_copied_session_too(app, client):
    sign_in(app, client, MAYA)
    copy = app.test_client()
    for cookie in client._cookies.values():
        copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    assert copy.get("/desk/").status_code == 200
    client.post("/desk/sign-out", data={"csrf_token": csrf(client, "/desk/")})
    assert copy.get("/desk/").status_code == 302
    sign_in(app, client, MAYA)  # a new sign-in works again
    assert client.get("/desk/").status_code == 200


@pytest.mark.parametrize("path", ["/desk/leads/%00", "/desk/?q=a%00b", "/desk/?owner=a%00", "/desk/?form=%00",
                                  "/desk/?campaign=%00", "/desk/?service=%00"])
def test_a_nul_in_a_desk_url_is_no_match_never_a_500(app, client, consultation, path):
    post(client, consultation)
    sign_in(app, client, MAYA)
    assert client.get(path).status_code in (200, 404)


def test_a_return_path_with_a_line_break_is_ignored(app, client):
    client.get("/desk/leads/abc%0A")
    response = sign_in(app, client, MAYA)
    assert response.headers["Location"] == "/desk/"


def test_a_manager_erases_a_person_from_the_desk_after_confirming(app, client, consultation):
    lead_id = post(client, consultation)
    seller = app.test_client()
    sign_in(app, seller, TOM)
    token = csrf(seller, f"/desk/leads/{lead_id}")
    assert seller.post(f"/desk/leads/{lead_id}/erase", data={"confirm": "yes", "csrf_token": token}).status_code == 403
    sign_in(app, client, MAYA)
    token = csrf(client, f"/desk/leads/{lead_id}")
    unconfirmed = client.post(f"/desk/leads/{lead_id}/erase", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and get_lead(app.extensions["capture"].engine, lead_id)["email"]
    done = client.post(f"/desk/leads/{lead_id}/erase", data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 303
    lead = get_lead(app.extensions["capture"].engine, lead_id)
    assert lead["email"] is None and lead["name"] is None and lead["anonymised_at"] is not None
    assert "Erased: 1 lead(s)" in client.get(f"/desk/leads/{lead_id}").get_data(as_text=True)


@pytest.mark.parametrize("page", ["/desk/report", "/desk/spam"])
def test_signing_in_from_a_link_to_the_report_or_the_tray_lands_there(app, client, page):
    ask_for_a_link_from(client, page, MAYA)  # signed out: to the sign-in page, remembering this one
    response = sign_in(app, client, MAYA)
    assert response.headers["Location"] == page


def test_a_head_request_to_the_sign_in_form_sends_no_link(app, client):
    """HEAD is safe to CSRF protection: it must never reach the code that mails a link."""
    response = client.open("/desk/sign-in", method="HEAD", data={"email": MAYA})
    assert response.status_code == 200
    with app.extensions["capture"].engine.connect() as conn:
        assert conn.execute(select(outbox.c.id).where(outbox.c.kind == "desk_sign_in")).all() == []
