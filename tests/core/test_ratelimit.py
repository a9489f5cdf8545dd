"""Rate limiting shared through Redis, and what happens when Redis is gone."""
import uuid

import pytest
import redis
from sqlalchemy import func, select

from capture.core.settings import DEFAULTS
from capture.db.models import bookings, leads
from tests.conftest import REDIS_URL, need_service


@pytest.fixture
def redis_prefix():
    """A key prefix of our own on the test Redis; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        need_service(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__})")
    prefix = f"capture-test-{uuid.uuid4().hex}"
    yield prefix
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.mark.redis
def test_two_processes_share_one_limit_through_redis(make_app, redis_prefix, consultation):
    settings = {"ratelimit": "3 per minute", "ratelimit_storage": REDIS_URL, "ratelimit_prefix": redis_prefix}
    first, second = make_app(**settings).test_client(), make_app(**settings).test_client()
    codes = [c.post("/api/forms/consultation", json=consultation).status_code
             for c in (first, second, first, second)]
    assert codes == [201, 201, 201, 429]
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*{redis_prefix}*")
    assert keys, "the counts should live in Redis under our prefix"


def test_limits_are_per_client_address(make_app, consultation):
    client = make_app(ratelimit="1 per minute", ratelimit_prefix=uuid.uuid4().hex).test_client()
    first = client.post("/api/forms/consultation", json=consultation,
                        environ_base={"REMOTE_ADDR": "198.51.100.1"})
    other = client.post("/api/forms/consultation", json=consultation,
                        environ_base={"REMOTE_ADDR": "198.51.100.2"})
    again = client.post("/api/forms/consultation", json=consultation,
                        environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert (first.status_code, other.status_code, again.status_code) == (201, 201, 429)


def test_behind_a_proxy_the_forwarded_address_is_limited(make_app, consultation):
    client = make_app(ratelimit="1 per minute", trusted_proxies="1",
                      ratelimit_prefix=uuid.uuid4().hex).test_client()
    codes = [client.post("/api/forms/consultation", json=consultation,
                         headers={"X-Forwarded-For": ip}).status_code
             for ip in ("203.0.113.5", "203.0.113.6", "203.0.113.5")]
    assert codes == [201, 201, 429]


def test_unreachable_redis_never_costs_a_lead(make_app, consultation):
    client = make_app(ratelimit="1 per minute", ratelimit_storage="redis://127.0.0.1:1/0").test_client()
    codes = [client.post("/api/forms/consultation", json=consultation).status_code for _ in range(3)]
    assert codes == [201, 201, 201]


# --- bookings per IP (CAPTURE_BOOKING_RATELIMIT) ---------------------------------------------

def _slots(client) -> list[str]:
    return [s["start"] for s in client.get("/api/slots?form=consultation&days=14").json["slots"]]


def test_the_fourth_booking_from_one_ip_is_a_429_on_the_slot_but_its_requests_still_pass(make_app, consultation):
    app = make_app(booking_ratelimit=DEFAULTS["BOOKING_RATELIMIT"], ratelimit_prefix=uuid.uuid4().hex)
    client = app.test_client()
    slots = _slots(client)
    ip = {"REMOTE_ADDR": "198.51.100.7"}

    def book(n: int, **more):
        body = {**consultation, "email": f"b{n}@example.com", "slot": slots[n], "time_on_form": "60000", **more}
        return client.post("/api/forms/consultation", json=body, environ_base=ip)

    assert [book(n).status_code for n in range(3)] == [201, 201, 201]
    fourth = book(3)
    assert fourth.status_code == 429 and fourth.headers.get("Retry-After")
    assert fourth.json == {"errors": {"slot": "Too many consultations have been booked from your network. "
                                              "Please try again later."}}
    with app.extensions["capture"].engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(bookings)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(leads)).scalar() == 3
    # A browser gets its answers back, to ask for a time instead.
    page = client.post("/api/forms/consultation", environ_base=ip,
                       data={**consultation, "email": "b4@example.com", "slot": slots[4]})
    assert page.status_code == 429 and 'value="b4@example.com"' in page.get_data(as_text=True)
    # Posts that book nothing are not counted: a request for a time and a contact message pass.
    assert client.post("/api/forms/consultation", json=consultation, environ_base=ip).status_code == 201
    contact = {"name": "Ada", "email": "ada@example.com", "message": "Hello there, a question.", "consent": "on"}
    assert client.post("/api/forms/contact", json=contact, environ_base=ip).status_code == 201
    # Another address books on.
    assert client.post("/api/forms/consultation", environ_base={"REMOTE_ADDR": "198.51.100.8"},
                       json={**consultation, "slot": slots[5], "time_on_form": "60000"}).status_code == 201


def test_an_empty_booking_limit_lifts_it(make_app, consultation):
    client = make_app(booking_ratelimit="", ratelimit_prefix=uuid.uuid4().hex).test_client()
    slots = _slots(client)
    codes = [client.post("/api/forms/consultation", json={**consultation, "email": f"b{n}@example.com",
                                                          "slot": slots[n], "time_on_form": "60000"}).status_code
             for n in range(5)]
    assert codes == [201] * 5
