"""Per-user record lists and small key/values: Redis when configured, in-process otherwise.

Both backends keep the same semantics (bounded, newest last) so a service behaves the same on a
laptop and in a cluster. The API is synchronous because model code runs on the kit's thread pool.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any, Protocol

import orjson


class RecordStore(Protocol):
    def append(self, key: str, records: list[dict[str, Any]]) -> int: ...
    def recent(self, key: str, limit: int | None = None) -> list[dict[str, Any]]: ...
    def put(self, key: str, value: dict[str, Any]) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def clear(self) -> None: ...


class MemoryRecordStore:
    """In-process store: at most `max_per_key` records per key and `max_keys` keys (LRU)."""

    def __init__(self, max_per_key: int = 1000, max_keys: int = 100_000) -> None:
        self.max_per_key = max_per_key
        self.max_keys = max_keys
        self._lists: OrderedDict[str, deque] = OrderedDict()
        self._values: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _touch(self, table: OrderedDict, key: str) -> None:
        table.move_to_end(key)
        while len(table) > self.max_keys:
            table.popitem(last=False)

    def append(self, key: str, records: list[dict[str, Any]]) -> int:
        with self._lock:
            items = self._lists.setdefault(key, deque(maxlen=self.max_per_key))
            items.extend(records)
            self._touch(self._lists, key)
            return len(items)

    def recent(self, key: str, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._lists.get(key, ()))
        return items[-limit:] if limit else items

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._values[key] = value
            self._touch(self._values, key)

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._values.get(key)

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
            self._values.clear()


class RedisRecordStore:
    """Redis lists (RPUSH + LTRIM keep the newest `max_per_key`) and JSON strings."""

    def __init__(self, url: str, namespace: str, max_per_key: int = 1000) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = f"finfleet:{namespace}:"
        self.max_per_key = max_per_key

    def append(self, key: str, records: list[dict[str, Any]]) -> int:
        name = self.prefix + "list:" + key
        pipe = self.client.pipeline()
        pipe.rpush(name, *[orjson.dumps(r) for r in records])
        pipe.ltrim(name, -self.max_per_key, -1)
        pipe.llen(name)
        return int(pipe.execute()[-1])

    def recent(self, key: str, limit: int | None = None) -> list[dict[str, Any]]:
        start = -limit if limit else 0
        raws = self.client.lrange(self.prefix + "list:" + key, start, -1)
        return [orjson.loads(raw) for raw in raws]

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.client.set(self.prefix + "kv:" + key, orjson.dumps(value))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.get(self.prefix + "kv:" + key)
        return orjson.loads(raw) if raw else None

    def clear(self) -> None:
        for name in self.client.scan_iter(self.prefix + "*"):
            self.client.delete(name)

    def close(self) -> None:
        self.client.close()


def record_store(redis_url: str | None, namespace: str, max_per_key: int = 1000) -> RecordStore:
    """Redis when a URL is configured, in-process otherwise."""
    if redis_url:
        return RedisRecordStore(redis_url, namespace, max_per_key)
    return MemoryRecordStore(max_per_key)
