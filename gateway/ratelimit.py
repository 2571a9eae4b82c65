"""A token bucket per caller: in Redis when configured (shared by all gateway replicas), in
process otherwise; a Redis failure falls back to the local bucket rather than refusing."""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from kit.errors import ProblemError

# KEYS[1] bucket; ARGV rate, burst. Returns {allowed, seconds to wait}. Redis TIME keeps replicas
# on one clock.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


class RateLimited(ProblemError):
    status = 429
    title = "Too many requests"
    slug = "rate-limited"


class MemoryBuckets:
    """Buckets of the callers seen most recently, at most `max_buckets` (least recently seen
    first out): a caller forgotten comes back to a full bucket, as after a long pause, so
    memory stays bounded whatever the number of addresses or keys."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic,
                 max_buckets: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, identity: str) -> float:
        """0 when a token was taken; otherwise the seconds until one is free."""
        now = self.clock()
        tokens, last = self._buckets.pop(identity, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[identity] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimiter:
    """Off when `rate` is 0."""

    def __init__(self, rate: float, burst: int, redis_client=None,
                 max_buckets: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.local = MemoryBuckets(rate, burst, max_buckets=max_buckets) if rate > 0 else None
        self.script = redis_client.register_script(_BUCKET_LUA) if redis_client and rate > 0 \
            else None

    @property
    def enabled(self) -> bool:
        return self.local is not None

    async def check(self, identity: str) -> None:
        if self.local is None:
            return
        wait = await self._take(identity)
        if wait > 0:
            raise RateLimited(
                f"rate limit of {self.rate:g} requests/s (burst {self.burst}) exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    async def _take(self, identity: str) -> float:
        if self.script is not None:
            from redis.exceptions import RedisError

            try:
                allowed, wait = await self.script(keys=[f"finfleet:gw:rate:{identity}"],
                                                  args=[self.rate, self.burst])
                return 0.0 if int(allowed) else float(wait)
            except (RedisError, OSError, TimeoutError):
                pass
        return self.local.take(identity)
