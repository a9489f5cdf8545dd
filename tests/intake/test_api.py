"""POST /api/forms/<id>: every answer the API can give, on SQLite and PostgreSQL."""
import json
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from capture.db.models import leads, outbox
from capture.db.store import get_lead
from tests.conftest import TEST_SECRET

JSON = {"Accept": "application/json"}


def stored_leads(app):
    with app.extensions["capture"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(leads)).mappings()]


def stored_jobs(app):
    with app.extensions["capture"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def test_today_is_the_business_day_of_the_service_clock(clock, client, consultation):
    clock.set(datetime(2026, 7, 14, 23, 30, tzinfo=timezone.utc))  # 00:30 on the 15th in London (BST)
    asked = {**consultation, "preferred_date": "2026-07-14"}
    answer = client.post("/api/forms/consultation", json=asked, headers=JSON)
    assert answer.status_code == 422 and "from today onwards" in answer.json["errors"]["preferred_date"]
    asked["preferred_date"] = "2026-07-15"
    assert client.post("/api/forms/consultation", json=asked).status_code == 201
    first = client.get("/api/slots?form=consultation&days=1").json["slots"][0]["start"]
    assert first.startswith("2026-07-15T")


def test_json_submission_is_stored_with_its_notifications(app, client, consultation):
    response = client.post("/api/forms/consultation", json=consultation)
    assert response.status_code == 201
    assert response.json["status"] == "received"
    lead = get_lead(app.extensions["capture"].engine, response.json["id"])
    assert lead["name"] == "Ada Lovelace" and lead["service"] == "ecommerce"
    assert lead["email"] == "ada@analytical.example.com" and lead["status"] == "new"
    assert lead["data"]["website"] == "https://analytical.example.com"
    assert lead["consent_version"] == "2026-11-27" and lead["consent_at"] is not None
    assert lead["spam"] is False
    assert lead["owner"] == "maya@fernleaf.example"  # sales.yml: the consultation round robin's first
    jobs = stored_jobs(app)
    assert [(j["kind"], j["recipient"]) for j in jobs] == [
        ("notify_sales", "shops@fernleaf.example"), ("notify_sales", "sales@fernleaf.example"),
        ("notify_sales", "maya@fernleaf.example"),  # the owner hears at once too
        ("confirm_visitor", "ada@analytical.example.com"),
        ("remind_owner", "maya@fernleaf.example"), ("escalate", "maya@fernleaf.example")]
    assert {j["lead_id"] for j in jobs} == {lead["id"]}
    assert len({j["message_id"] for j in jobs}) == 6
    assert all(j["status"] == "pending" for j in jobs)
    # Mail goes now; the reminder and escalation wait for their working-time deadlines.
    now = [j for j in jobs if j["scheduled_for"] is None]
    assert len(now) == 4 and all(j["available_at"] == lead["received_at"] for j in now)
    assert all(j["available_at"] > lead["received_at"] for j in jobs if j["scheduled_for"])


def test_ids_are_not_guessable_and_sort_by_age(client, consultation):
    ids = []
    for _ in range(5):
        ids.append(client.post("/api/forms/consultation", json=consultation).json["id"])
        time.sleep(0.002)  # the time part counts milliseconds
    assert ids == sorted(ids) and len(set(ids)) == 5
    random_parts = [i[12:] for i in ids]  # after the fixed-width time
    assert all(len(p) == 16 for p in random_parts) and len(set(random_parts)) == 5


@pytest.mark.parametrize("as_multipart", [False, True])
def test_browser_post_redirects_to_the_thank_you_page(app, client, consultation, as_multipart):
    kwargs = {"content_type": "multipart/form-data"} if as_multipart else {}
    response = client.post("/api/forms/consultation", data=consultation,
                           headers={"Accept": "text/html,*/*;q=0.8"}, **kwargs)
    assert response.status_code == 303
    assert response.headers["Location"] == "/thank-you/consultation/"
    assert len(stored_leads(app)) == 1


def test_thank_you_redirect_uses_the_configured_site_never_the_request(make_app, consultation):
    client = make_app(site_url="https://www.fernleaf.example").test_client()
    response = client.post("/api/forms/consultation?next=https://evil.example/",
                           data={**consultation, "redirect": "https://evil.example/", "_next": "//evil"})
    assert response.headers["Location"] == "https://www.fernleaf.example/thank-you/consultation/"


def test_invalid_json_submission_gets_field_errors_and_nothing_is_stored(app, client, consultation):
    response = client.post("/api/forms/consultation", json={**consultation, "email": "nope", "consent": ""})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"email", "consent"}
    assert "valid email address" in response.json["errors"]["email"]
    assert stored_leads(app) == [] and stored_jobs(app) == []


def test_invalid_browser_post_shows_the_form_again_with_the_input(client, consultation):
    response = client.post("/api/forms/consultation",
                           data={**consultation, "email": "nope", "name": "Ada <b>Lovelace</b>"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please check your answers" in page
    assert 'value="Ada &lt;b&gt;Lovelace&lt;/b&gt;"' in page
    assert 'aria-invalid="true"' in page and "valid email address" in page
    assert '<option value="ecommerce" selected>' in page
    assert 'action="/api/forms/consultation"' in page


@pytest.mark.parametrize("headers, kwargs, status, text", [
    (JSON, {"data": "x=1", "content_type": "text/plain"}, 415, "normal form post or as JSON"),
    (JSON, {"data": "x=1"}, 415, "normal form post or as JSON"),
    (JSON, {"data": "{not json", "content_type": "application/json"}, 400, "not valid JSON"),
    (JSON, {"data": "[1, 2]", "content_type": "application/json"}, 400, "must be an object"),
    (JSON, {"json": {"message": "x" * 70000}}, 413, "too large"),
    (JSON, {"data": {"message": "x" * 70000}}, 413, "too large"),
])
def test_bad_requests_get_specific_json_errors(app, client, headers, kwargs, status, text):
    response = client.post("/api/forms/consultation", headers=headers, **kwargs)
    assert response.status_code == status
    assert text in response.json["error"]
    assert stored_leads(app) == []


def test_errors_are_html_for_browsers(client):
    response = client.post("/api/forms/consultation", data="x", content_type="text/plain",
                           headers={"Accept": "text/html"})
    assert response.status_code == 415
    assert response.mimetype == "text/html"
    assert "normal form post or as JSON" in response.get_data(as_text=True)


def test_unknown_form_is_404(client, consultation):
    response = client.post("/api/forms/newsletter", json=consultation)
    assert response.status_code == 404
    assert response.json == {"error": "There is no form called 'newsletter'."}


def test_wrong_method_is_405_json(client):
    response = client.get("/api/forms/contact", headers=JSON)
    assert response.status_code == 405
    assert "error" in response.json


def test_foreign_origin_is_refused(app, client, consultation):
    response = client.post("/api/forms/consultation", json=consultation,
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert stored_leads(app) == []


def test_same_origin_is_always_allowed(client, consultation):
    response = client.post("/api/forms/consultation", json=consultation,
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 201


def test_allowed_origin_gets_cors_headers_and_preflight(make_app, consultation):
    client = make_app(allowed_origins="https://www.fernleaf.example").test_client()
    origin = {"Origin": "https://www.fernleaf.example"}
    preflight = client.options("/api/forms/consultation",
                               headers={**origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    response = client.post("/api/forms/consultation", json=consultation, headers=origin)
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == "https://www.fernleaf.example"
    assert "Origin" in response.headers["Vary"]
    refused = client.options("/api/forms/consultation", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403


def test_honeypot_looks_like_success_but_marks_spam_and_notifies_nobody(app, client, consultation):
    response = client.post("/api/forms/consultation", json={**consultation, "fax": "+1 555 0100"})
    assert response.status_code == 201
    lead = get_lead(app.extensions["capture"].engine, response.json["id"])
    assert lead["spam"] is True and lead["verdict"] == "spam"
    assert lead["spam_reasons"] == ["the hidden honeypot field was filled in"]
    assert stored_jobs(app) == []


def test_unknown_fields_are_never_stored(app, client, consultation):
    client.post("/api/forms/consultation", json={**consultation, "password": "hunter2", "is_admin": "1"})
    (lead,) = stored_leads(app)
    assert "hunter2" not in repr(lead)
    assert "password" not in lead["data"]


def test_attribution_is_stored(app, client, consultation):
    sent = {"page_url": "https://www.fernleaf.example/services/ecommerce/?utm_source=x",
            "landing_page": "https://www.fernleaf.example/blog/local-seo/",
            "first_utm_source": "newsletter", "first_utm_campaign": "spring",
            "last_utm_source": "x", "first_seen": "2026-11-20T10:00:00Z"}
    client.post("/api/forms/consultation", json={**consultation, **sent})
    (lead,) = stored_leads(app)
    assert {k: lead[k] for k in sent} == sent


def test_without_script_the_referer_stands_in_for_the_page(app, client, consultation):
    client.post("/api/forms/consultation", data=consultation,
                headers={"Referer": "http://localhost/services/starter/"})
    (lead,) = stored_leads(app)
    assert lead["page_url"] == "http://localhost/services/starter/"


def test_contact_form_routes_to_its_own_inbox(app, client):
    response = client.post("/api/forms/contact", json={
        "name": "Grace", "email": "grace@navy.example.com", "message": "Hello", "consent": True})
    assert response.status_code == 201
    # hello@ (forms.yml), and the lead's owner (sales.yml: the fallback manager, as hello@ is no person)
    assert [j["recipient"] for j in stored_jobs(app) if j["kind"] == "notify_sales"] == [
        "hello@fernleaf.example", "maya@fernleaf.example"]


def test_rate_limit_answers_429_with_retry_after(make_app, consultation):
    client = make_app(ratelimit="2 per minute", ratelimit_prefix=f"t{uuid.uuid4().hex}").test_client()
    codes = [client.post("/api/forms/consultation", json=consultation).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    limited = client.post("/api/forms/consultation", json=consultation)
    assert "Too many submissions" in limited.json["error"]
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/api/health").status_code == 200


def test_health_reports_database_and_waiting_notifications(client, consultation):
    client.post("/api/forms/consultation", json=consultation)
    body = client.get("/api/health").json
    assert body["status"] == "ok" and body["database"] == "ok"
    # two sales inboxes, the lead's owner and the visitor's confirmation; the follow-ups are scheduled
    assert body["outbox"]["waiting"] == 4 and body["outbox"]["scheduled"] == 2


def test_a_database_failure_is_a_clear_503_not_a_false_success(app, client, consultation):
    engine = app.extensions["capture"].engine
    with engine.begin() as conn:
        conn.execute(outbox.delete())
        conn.exec_driver_sql("DROP TABLE outbox")
    response = client.post("/api/forms/consultation", json=consultation)
    assert response.status_code == 503
    assert "try again" in response.json["error"]
    assert stored_leads(app) == []  # the lead insert was rolled back with the failed job insert


# --- what adversarial testing found (each failed before its fix) --------------------------

@pytest.fixture
def unreachable_database(request, tmp_path) -> str:
    """A database the app cannot open: a server nobody listens on, or a 'file' that is a folder."""
    if request.param == "postgresql":
        return "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"
    (tmp_path / "db-is-a-folder").mkdir()
    return f"sqlite:///{tmp_path / 'db-is-a-folder'}"


@pytest.mark.parametrize("unreachable_database", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_database_that_cannot_be_reached_is_the_documented_503(unreachable_database, tmp_path,
                                                                 consultation, accept, caplog):
    from capture import create_app
    app = create_app({"database_url": unreachable_database, "auto_migrate": "0", "ratelimit": "",
                      "secret_key": TEST_SECRET, "mail_url": f"file:{tmp_path / 'mail'}"})
    client = app.test_client()
    if accept == "application/json":
        response = client.post("/api/forms/consultation", json=consultation)
        assert response.status_code == 503 and "try again" in response.json["error"]
    else:
        response = client.post("/api/forms/consultation", data=consultation, headers={"Accept": accept})
        assert response.status_code == 503
        assert "could not save your request" in response.get_data(as_text=True)
    assert "Traceback" not in caplog.text
    assert client.get("/api/health").status_code == 503


def test_nested_json_thousands_deep_is_a_400(app, client):
    body = "[" * 5000 + "]" * 5000
    response = client.post("/api/forms/consultation", data=f'{{"name": {body}}}',
                           content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.json["error"]


@pytest.mark.parametrize("field", ["name", "message", "company", "page_url"])
def test_a_lone_surrogate_is_refused_or_dropped_never_a_500(app, client, consultation, field):
    raw = '{"name": "Ada", "%s": "x\\ud800y"}' % field
    body = raw.replace('"name": "Ada"', ", ".join(f'"{k}": "{v}"' for k, v in consultation.items()
                                                   if k != field))
    response = client.post("/api/forms/consultation", data=body, content_type="application/json")
    if field == "page_url":  # attribution from our script: the odd character is dropped
        assert response.status_code == 201
        assert get_lead(app.extensions["capture"].engine, response.json["id"])["page_url"] == "xy"
    else:
        assert response.status_code == 422
        assert list(response.json["errors"]) == [field]
    assert len(stored_leads(app)) == (1 if field == "page_url" else 0)


@pytest.mark.parametrize("value", [0, False, [], {}, 1, "x", True])
def test_any_honeypot_value_of_any_type_marks_spam(app, client, consultation, value):
    response = client.post("/api/forms/consultation", json={**consultation, "fax": value})
    assert response.status_code == 201
    assert [(lead["spam"], lead["verdict"]) for lead in stored_leads(app)] == [(True, "spam")]
    assert stored_jobs(app) == []


@pytest.mark.parametrize("body", ["fax=&fax=bot", "fax=bot&fax=", "fax=%20&fax=0"])
def test_a_repeated_honeypot_key_is_seen_in_any_repetition(app, client, consultation, body):
    form = "&".join(f"{k}={v}" for k, v in consultation.items())
    client.post("/api/forms/consultation", data=f"{form}&{body}",
                content_type="application/x-www-form-urlencoded")
    assert [lead["spam"] for lead in stored_leads(app)] == [True]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_empty_honeypot_is_a_person(app, client, consultation, value):
    client.post("/api/forms/consultation", json={**consultation, "fax": value})
    assert [lead["spam"] for lead in stored_leads(app)] == [False]


def test_health_tells_the_public_only_the_status(make_app, consultation):
    app = make_app(health_token="monitoring-token-0123456789")
    client = app.test_client()
    client.post("/api/forms/consultation", json=consultation)
    public = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/api/health", environ_base=public).json == {"status": "ok"}
    wrong = client.get("/api/health", environ_base=public, headers={"Authorization": "Bearer nope"})
    assert wrong.json == {"status": "ok"}
    # Through a local reverse proxy: loopback peer, but someone else's request.
    proxied = client.get("/api/health", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.json == {"status": "ok"}
    for trusted in (client.get("/api/health"),
                    client.get("/api/health", environ_base=public,
                               headers={"Authorization": "Bearer monitoring-token-0123456789"})):
        assert trusted.json["database"] == "ok" and trusted.json["outbox"]["waiting"] == 4


def test_health_behind_a_trusted_proxy_is_public_for_the_client(make_app):
    app = make_app(trusted_proxies="1")
    response = app.test_client().get("/api/health", headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.json == {"status": "ok"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app under real gunicorn (chunked bodies are the WSGI server's business)."""
    from tests.gunicorn_server import Gunicorn
    folder = tmp_path_factory.mktemp("served")
    server = Gunicorn({"CAPTURE_DATABASE_URL": f"sqlite:///{folder / 'capture.db'}",
                       "CAPTURE_SECRET_KEY": TEST_SECRET, "CAPTURE_RATELIMIT": "",
                       "CAPTURE_MAIL_URL": f"file:{folder / 'mail'}", "CAPTURE_EMBEDDED_WORKER": "0"},
                      workers=1)
    yield server
    server.stop()


def post_chunked(server, content_type: str, body: bytes) -> tuple[int, dict]:
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))
    conn.request("POST", "/api/forms/consultation", body=chunks, encode_chunked=True,
                 headers={"Content-Type": content_type, "Accept": "application/json"})
    response = conn.getresponse()
    answer = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, answer


def post_raw(server, path: str, head: str, body: bytes, end_body: bool = False) -> tuple[int, bytes]:
    """POST bytes exactly as given (framing and all) on a raw socket; the status and the body.

    `end_body` closes our side after the body, as a client that gives up mid-chunk does.
    """
    import socket
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     f"Transfer-Encoding: chunked\r\n{head}\r\n".encode() + body)
        if end_body:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


BROKEN_CHUNKS = {
    "invalid chunk size": (b"zz\r\nabc\r\n0\r\n\r\n", False),
    "missing chunk terminator": (b"3\r\nabcdef\r\n0\r\n\r\n", False),
    "cut short": (b"10\r\nabc", True),
}


@pytest.mark.parametrize("broken", ["invalid chunk size", "missing chunk terminator"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_broken_chunked_body_is_a_400_in_the_usual_shape(served, broken, content_type):
    body, _ = BROKEN_CHUNKS[broken]
    code, answer = post_raw(served, "/api/forms/consultation",
                            f"Content-Type: {content_type}\r\nAccept: application/json\r\n", body)
    assert (code, json.loads(answer)) == (400, {"error": "The request body is malformed "
                                                         "(its chunked framing is broken)."})


def test_a_browser_gets_the_broken_body_as_a_page(served):
    code, answer = post_raw(served, "/api/forms/consultation",
                            "Content-Type: application/x-www-form-urlencoded\r\nAccept: text/html\r\n",
                            BROKEN_CHUNKS["invalid chunk size"][0])
    assert code == 400 and b"The request body is malformed" in answer and b"<html" in answer.lower()


@pytest.mark.parametrize("path, content_type", [
    ("/api/forms/consultation", "application/json"),
    ("/api/views", "text/plain"),
    ("/desk/sign-in", "application/x-www-form-urlencoded"),
])
@pytest.mark.parametrize("broken", BROKEN_CHUNKS)
def test_a_broken_chunked_body_is_never_a_500(served, path, content_type, broken):
    body, end_body = BROKEN_CHUNKS[broken]
    code, _ = post_raw(served, path, f"Content-Type: {content_type}\r\n", body, end_body)
    assert code == 400


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("size, status", [(60 * 1024, 201), (64 * 1024 + 1, 413), (200 * 1024, 413)])
def test_a_chunked_body_is_read_whole_or_refused_never_cut(served, consultation, content_type, size, status):
    fields = {**consultation, "message": "x" * 4000}
    if content_type == "application/json":
        body = json.dumps({**fields, "padding": ""}).encode()
        body = body[:-2] + b"p" * (size - len(body)) + body[-2:]
    else:
        body = urlencode(fields).encode() + b"&padding="
        body += b"p" * (size - len(body))
    assert len(body) == size
    code, answer = post_chunked(served, content_type, body)
    assert code == status, answer
    if status == 201:
        assert answer["status"] == "received"
    else:
        assert "too large" in answer["error"]
