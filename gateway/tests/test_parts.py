"""The gateway's small parts on their own: cache keys, LRU+TTL, breaker, token bucket, keys."""

from __future__ import annotations

import pytest

from gateway.auth import hash_key
from gateway.cache import MemoryCache, instance_key
from gateway.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from gateway.nginx.render import render_nginx
from gateway.ratelimit import MemoryBuckets
from gateway.settings import GatewaySettings
from kit.testing import FakeClock


def test_instance_key_ignores_field_order_but_not_version_or_values():
    a = instance_key("credit", "v1", {"age": 30, "income": 5})
    assert a == instance_key("credit", "v1", {"income": 5, "age": 30})
    assert a != instance_key("credit", "v2", {"age": 30, "income": 5})
    assert a != instance_key("credit", "v1", {"age": 31, "income": 5})
    assert a != instance_key("intent", "v1", {"age": 30, "income": 5})


async def test_memory_cache_expires_entries_and_evicts_least_recently_used():
    clock = FakeClock()
    cache = MemoryCache(max_entries=2, clock=clock)
    await cache.set_many({"a": 1, "b": 2}, ttl=10)
    assert await cache.get_many(["a", "b", "c"]) == [1, 2, None]
    await cache.get_many(["a"])  # a is now the most recently used
    await cache.set_many({"c": 3}, ttl=10)
    assert await cache.get_many(["a", "b", "c"]) == [1, None, 3]
    clock.now += 11
    assert await cache.get_many(["a", "c"]) == [None, None]


def test_breaker_opens_after_threshold_then_lets_one_probe_through():
    clock = FakeClock()
    states = []
    breaker = CircuitBreaker(3, 5.0, on_change=states.append, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now += 5
    assert breaker.allow() and breaker.state == HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow()
    assert states == [CLOSED, OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]


def test_breaker_frees_the_probe_slot_when_a_probe_is_cancelled():
    clock = FakeClock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow() and not breaker.allow()
    breaker.abandon()
    assert breaker.allow()


def test_breaker_success_resets_the_failure_count():
    breaker = CircuitBreaker(2, 5.0, clock=FakeClock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == CLOSED


def test_token_bucket_allows_burst_then_refills_at_rate():
    clock = FakeClock()
    buckets = MemoryBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)
    assert buckets.take("other") == 0.0  # buckets are per caller
    clock.now += 0.5
    assert buckets.take("k") == 0.0
    assert buckets.take("k") > 0


def test_settings_read_json_from_env(monkeypatch):
    monkeypatch.setenv("GATEWAY_UPSTREAMS", '{"credit": "http://10.0.0.5:9000"}')
    monkeypatch.setenv("GATEWAY_READ_TIMEOUTS", '{"credit": 0.75}')
    monkeypatch.setenv("GATEWAY_API_KEY_SHA256", f'["{hash_key("s3cret")}"]')
    settings = GatewaySettings()
    assert settings.upstreams == {"credit": "http://10.0.0.5:9000"}
    assert settings.read_timeout_for("credit") == 0.75
    assert settings.read_timeout_for("intent") == settings.read_timeout
    assert settings.auth_enabled
    assert GatewaySettings(upstreams={}).cache_ttl_for("anomaly") == 0.0


@pytest.mark.parametrize("url", ["https://credit:8443", "credit:8080", "http://"])
def test_settings_refuse_upstream_urls_the_client_cannot_use(url):
    with pytest.raises(ValueError, match="is not an http://host"):
        GatewaySettings(upstreams={"credit": url})


def test_nginx_config_carries_the_settings():
    settings = GatewaySettings(max_body_bytes=2_000_000, read_timeout=7.0, read_timeouts={})
    slow = GatewaySettings(read_timeout=7.0, read_timeouts={"spending": 30.0})
    assert "proxy_read_timeout 31s;" in render_nginx(slow, replicas=["127.0.0.1:8000"], listen=8080,
                                                     rate_per_second=0, prefix="/tmp/nginx-x")
    conf = render_nginx(settings, replicas=["127.0.0.1:8000", "127.0.0.1:8010"], listen=8080,
                        rate_per_second=50, prefix="/tmp/nginx-x")
    assert "server 127.0.0.1:8000" in conf and "server 127.0.0.1:8010" in conf
    assert "client_max_body_size 2000000;" in conf
    assert "listen 127.0.0.1:8080" in conf
    assert "rate=50r/s" in conf and "limit_req_status 429;" in conf
    assert "keepalive " in conf and 'proxy_set_header Connection "";' in conf
    assert "proxy_read_timeout 8s;" in conf
    no_limit = render_nginx(settings, replicas=["127.0.0.1:8000"], listen=8080,
                            rate_per_second=0, prefix="/tmp/nginx-x")
    assert "limit_req" not in no_limit
