"""The in-process record store keeps the Redis store's promises: TTLs, atomic updates, bounds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kit.stores import MemoryRecordStore
from kit.testing import FakeClock


def test_values_and_lists_expire_after_their_ttl():
    clock = FakeClock(0.0)
    store = MemoryRecordStore(clock=clock)
    store.put("a", {"v": 1}, ttl=10)
    store.append("l", [{"n": 1}], ttl=10)
    store.put("forever", {"v": 2})
    clock.now = 9.9
    assert store.get("a") == {"v": 1} and store.recent("l") == [{"n": 1}]
    clock.now = 10.0
    assert store.get("a") is None and store.recent("l") == []
    assert store.get("forever") == {"v": 2}


def test_concurrent_updates_lose_nothing():
    store = MemoryRecordStore()

    def add(_):
        store.update("count", lambda doc: {"n": (doc or {"n": 0})["n"] + 1})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, range(2_000)))
    assert store.get("count") == {"n": 2_000}


def test_an_update_that_returns_none_writes_nothing():
    store = MemoryRecordStore()
    assert store.update("k", lambda doc: None) is None and store.get("k") is None


def test_lists_keep_the_newest_records_and_keys_are_bounded():
    store = MemoryRecordStore(max_per_key=3, max_keys=2)
    store.append("a", [{"n": n} for n in range(5)])
    assert store.recent("a") == [{"n": 2}, {"n": 3}, {"n": 4}]
    store.append("b", [{"n": 0}])
    store.append("c", [{"n": 0}])
    assert store.recent("a") == []  # the least recently used key went first
