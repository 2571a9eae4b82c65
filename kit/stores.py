"""Per-user record lists and small key/values: Redis when configured, in-process otherwise.

Both backends keep the same semantics (bounded, newest last, every key with a time to live) so a
service behaves the same on a laptop and in a cluster. `update` is an atomic read-modify-write
(a lock in process, WATCH/MULTI in Redis), so concurrent requests for one user lose nothing. A
store that fails (Redis down, or full at `maxmemory`) raises `StoreUnavailable`, a 503 problem.
The API is synchronous because model code runs on the kit's thread pool.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from kit.errors import ProblemError

Value = dict[str, Any]
Updater = Callable[[Value | None], Value | None]  # old value → new (None: leave it as it is)


class StoreUnavailable(ProblemError):
    status = 503
    title = "Service Unavailable"
    slug = "store-unavailable"


class RecordStore(Protocol):
    def append(self, key: str, records: list[Value], ttl: float | None = None) -> int: ...
    def recent(self, key: str, limit: int | None = None) -> list[Value]: ...
    def put(self, key: str, value: Value, ttl: float | None = None) -> None: ...
    def get(self, key: str) -> Value | None: ...
    def update(self, key: str, change: Updater, ttl: float | None = None) -> Value | None: ...
    def clear(self) -> None: ...


class MemoryRecordStore:
    """In-process store: at most `max_per_key` records per key and `max_keys` keys (LRU); a key
    past its time to live reads as absent."""

    def __init__(self, max_per_key: int = 1000, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_key = max_per_key
        self.max_keys = max_keys
        self.clock = clock
        self._lists: OrderedDict[str, tuple[deque, float]] = OrderedDict()
        self._values: OrderedDict[str, tuple[Value, float]] = OrderedDict()
        self._lock = threading.RLock()

    def _expiry(self, ttl: float | None) -> float:
        return float("inf") if ttl is None else self.clock() + ttl

    def _live(self, table: OrderedDict, key: str):
        entry = table.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del table[key]
            return None
        return entry[0]

    def _touch(self, table: OrderedDict, key: str) -> None:
        table.move_to_end(key)
        while len(table) > self.max_keys:
            table.popitem(last=False)

    def append(self, key: str, records: list[Value], ttl: float | None = None) -> int:
        with self._lock:
            items = self._live(self._lists, key)
            if items is None:
                items = deque(maxlen=self.max_per_key)
            items.extend(records)
            self._lists[key] = (items, self._expiry(ttl))
            self._touch(self._lists, key)
            return len(items)

    def recent(self, key: str, limit: int | None = None) -> list[Value]:
        with self._lock:
            items = list(self._live(self._lists, key) or ())
        return items[-limit:] if limit else items

    def put(self, key: str, value: Value, ttl: float | None = None) -> None:
        with self._lock:
            self._values[key] = (value, self._expiry(ttl))
            self._touch(self._values, key)

    def get(self, key: str) -> Value | None:
        with self._lock:
            return self._live(self._values, key)

    def update(self, key: str, change: Updater, ttl: float | None = None) -> Value | None:
        with self._lock:
            new = change(self._live(self._values, key))
            if new is not None:
                self.put(key, new, ttl)
            return new

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
            self._values.clear()


class RedisRecordStore:
    """Redis lists (RPUSH + LTRIM keep the newest `max_per_key`) and JSON strings, each key with
    its TTL; `update` retries its WATCH/MULTI transaction when another writer got there first."""

    def __init__(self, url: str, namespace: str, max_per_key: int = 1000) -> None:
        import redis

        self.errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = f"finfleet:{namespace}:"
        self.max_per_key = max_per_key

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except self.errors as exc:
            raise StoreUnavailable(f"the state store is unavailable ({type(exc).__name__}: "
                                   f"{exc}); try again shortly") from exc

    def append(self, key: str, records: list[Value], ttl: float | None = None) -> int:
        name = self.prefix + "list:" + key

        def write() -> int:
            pipe = self.client.pipeline()
            pipe.rpush(name, *[orjson.dumps(r) for r in records])
            pipe.ltrim(name, -self.max_per_key, -1)
            if ttl is not None:
                pipe.pexpire(name, _ms(ttl))
            pipe.llen(name)
            return int(pipe.execute()[-1])

        return self._call(write)

    def recent(self, key: str, limit: int | None = None) -> list[Value]:
        start = -limit if limit else 0
        raws = self._call(lambda: self.client.lrange(self.prefix + "list:" + key, start, -1))
        return [orjson.loads(raw) for raw in raws]

    def put(self, key: str, value: Value, ttl: float | None = None) -> None:
        self._call(lambda: self.client.set(self.prefix + "kv:" + key, orjson.dumps(value),
                                           px=None if ttl is None else _ms(ttl)))

    def get(self, key: str) -> Value | None:
        raw = self._call(lambda: self.client.get(self.prefix + "kv:" + key))
        return orjson.loads(raw) if raw else None

    def update(self, key: str, change: Updater, ttl: float | None = None) -> Value | None:
        name = self.prefix + "kv:" + key
        result: list[Value | None] = [None]

        def attempt(pipe) -> None:
            raw = pipe.get(name)
            new = change(orjson.loads(raw) if raw else None)
            result[0] = new
            pipe.multi()
            if new is not None:
                pipe.set(name, orjson.dumps(new), px=None if ttl is None else _ms(ttl))

        self._call(lambda: self.client.transaction(attempt, name))
        return result[0]

    def clear(self) -> None:
        def wipe() -> None:
            for name in self.client.scan_iter(self.prefix + "*"):
                self.client.delete(name)

        self._call(wipe)

    def close(self) -> None:
        self.client.close()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def record_store(redis_url: str | None, namespace: str, max_per_key: int = 1000) -> RecordStore:
    """Redis when a URL is configured, in-process otherwise."""
    if redis_url:
        return RedisRecordStore(redis_url, namespace, max_per_key)
    return MemoryRecordStore(max_per_key)
