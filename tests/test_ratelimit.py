"""Rate limiting shared through Redis, and what happens when Redis is gone."""
import uuid

import pytest
import redis

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
