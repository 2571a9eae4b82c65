"""Prediction cache: Redis when configured, an in-process LRU with TTL otherwise.

One entry per instance (key = model + model version + canonical JSON of the instance), so a batch
can be served partly from cache and a new model version never meets an old answer.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any, Protocol

import orjson


class CacheUnavailable(Exception):
    """The cache backend failed; the caller serves without it."""


def instance_key(model: str, version: str, instance: Any) -> str:
    canonical = orjson.dumps(instance, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.blake2b(canonical, digest_size=16).hexdigest()
    return f"finfleet:gw:{model}:{version}:{digest}"


class PredictionCache(Protocol):
    async def get_many(self, keys: list[str]) -> list[Any | None]: ...
    async def set_many(self, items: dict[str, Any], ttl: float) -> None: ...


class MemoryCache:
    """LRU with a TTL per entry; at most `max_entries` entries."""

    def __init__(self, max_entries: int = 100_000, clock=time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    async def get_many(self, keys: list[str]) -> list[Any | None]:
        now = self.clock()
        out: list[Any | None] = []
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                out.append(None)
            elif entry[0] <= now:
                del self._entries[key]
                out.append(None)
            else:
                self._entries.move_to_end(key)
                out.append(entry[1])
        return out

    async def set_many(self, items: dict[str, Any], ttl: float) -> None:
        expires = self.clock() + ttl
        for key, value in items.items():
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class RedisCache:
    """Redis MGET / pipelined SET PX. After a failure it skips Redis for `pause_seconds`, so an
    outage costs one timeout, not one per request."""

    def __init__(self, client, pause_seconds: float = 1.0, clock=time.monotonic) -> None:
        self.client = client
        self.pause_seconds = pause_seconds
        self.clock = clock
        self._paused_until = 0.0

    async def get_many(self, keys: list[str]) -> list[Any | None]:
        raw = await self._run(self.client.mget, keys)
        return [orjson.loads(value) if value is not None else None for value in raw]

    async def set_many(self, items: dict[str, Any], ttl: float) -> None:
        async def write() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, orjson.dumps(value), px=max(1, int(ttl * 1000)))
                await pipe.execute()

        await self._run(write)

    async def _run(self, fn, *args):
        from redis.exceptions import RedisError

        if self.clock() < self._paused_until:
            raise CacheUnavailable("redis paused after a recent failure")
        try:
            return await fn(*args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._paused_until = self.clock() + self.pause_seconds
            raise CacheUnavailable(str(exc)) from exc
