"""The anomaly state in a real Redis under concurrency, retention and a full store (issue 17
defects 8 and 9): no acknowledged update is lost, every key expires, and a Redis at
`maxmemory` is a 503 problem, never a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from kit import procs
from kit.stores import RedisRecordStore
from kit.testing import running_client
from services.anomaly.app import build_app
from services.anomaly.features import AmountPrior, Tx
from services.anomaly.profiles import PROFILE_TTL, ProfileStore
from services.anomaly.settings import AnomalySettings
from tests.procs import require_binary

PRIOR = AmountPrior(median=1000.0, mean=1200.0, std=800.0)


def transaction(n: int) -> Tx:
    return Tx(t=1_700_000_000.0 + n, amount=100.0 + n, merchant="m-1", category="food",
              hour=12.0, weekday=2, tx_id=f"tx-{n}")


def test_concurrent_transactions_for_one_user_are_all_kept(redis_url):
    store = RedisRecordStore(redis_url, "anomaly-concurrency")
    store.clear()
    profiles = ProfileStore(store, max_history=500)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: profiles.observe("u-1", transaction(n), PRIOR), range(300)))
    assert len(profiles.profile("u-1")["t"]) == 300
    counts = profiles.merchant("m-1")["days"]
    assert sum(counts.values()) == 300


def test_concurrent_fraud_marks_are_all_kept(redis_url):
    store = RedisRecordStore(redis_url, "anomaly-marks")
    store.clear()
    profiles = ProfileStore(store)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: profiles.mark("m-2", f"tx-{n}", 1.0 + n, True, 2.0 + n),
                      range(300)))
    assert len(profiles.merchant("m-2")["fraud"]) == 300


def test_every_key_the_profiles_write_expires(redis_url):
    store = RedisRecordStore(redis_url, "anomaly-ttl")
    store.clear()
    profiles = ProfileStore(store)
    profiles.observe("u-ttl", transaction(1), PRIOR)
    profiles.record_feedback("tx-1", "fraud", now=1_700_000_100.0)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("finfleet:anomaly-ttl:*"))
    assert len(keys) == 5  # user, merchant, transaction, label, the day's feedback log
    ttls = {key.decode(): client.ttl(key) for key in keys}
    assert all(ttl > 0 for ttl in ttls.values()), ttls
    assert ttls["finfleet:anomaly-ttl:kv:user:u-ttl"] == pytest.approx(PROFILE_TTL, abs=5)


@pytest.fixture
def full_redis(tmp_path):
    """A Redis that refuses writes: maxmemory reached, nothing evictable."""
    require_binary("redis-server")
    proc = procs.start_redis(tmp_path, None, "--maxmemory", "1mb",
                             "--maxmemory-policy", "noeviction")
    client = redis.Redis.from_url(proc.url)
    try:
        for n in range(1_000):
            client.set(f"filler:{n}", "x" * 10_000)
    except redis.exceptions.OutOfMemoryError:
        pass  # full: what the test wants
    yield proc.url
    proc.stop()


async def test_a_full_redis_is_a_503_problem_not_a_500(model_dir, full_redis):
    settings = AnomalySettings(model_dir=model_dir, redis_url=full_redis)
    instance = {"user_id": "u", "transaction": {"timestamp": "2026-11-20T10:00:00",
                                                "amount": 500, "merchant": "m"}}
    async with running_client(build_app(settings)) as client:
        response = await client.post("/v1/models/anomaly:predict", json={"instances": [instance]})
        live = await client.get("/health/live")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "state store" in response.json()["detail"]
    assert live.status_code == 200
