"""Traffic policy per model: a canary share of callers answered by the candidate version, and a
shadow share of requests copied to it after the caller's answer.

Canary is sticky: a caller (the instances' common `user_id`, else the caller's API key or
address) hashes to a fixed point in [0, 100), and lands on the candidate when that point is below
the canary percentage — so one user never flips between versions, and raising the share only
adds callers. Shadow samples requests at random; its calls wait in a bounded queue worked by a
few tasks, so a slow or failing candidate costs callers nothing: when the queue is full a shadow
call is dropped and counted, never a caller's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TrafficPolicy(BaseModel):
    """What the gateway does with one model's traffic beside production."""

    model_config = ConfigDict(frozen=True)

    canary_percent: float = Field(0.0, ge=0, le=100,
                                  description="Share of callers answered by the candidate")
    shadow_percent: float = Field(0.0, ge=0, le=100,
                                  description="Share of requests also sent to the candidate, "
                                              "after the caller's answer")

    @property
    def active(self) -> bool:
        return self.canary_percent > 0 or self.shadow_percent > 0


NO_POLICY = TrafficPolicy()  # shared: the hot path asks for every request


def bucket(model: str, key: str) -> float:
    """The caller's fixed point in [0, 100) for this model (blake2b: stable across processes
    and replicas of the gateway, unlike Python's salted `hash`)."""
    digest = hashlib.blake2b(f"{model}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100


def sticky_key(instances: list[Any], caller: str) -> str:
    """The instances' common `user_id` where they have one, else the caller."""
    users = {i.get("user_id") for i in instances if isinstance(i, dict)}
    if len(users) == 1:
        (user,) = users
        if isinstance(user, str) and user:
            return "user:" + user
    return caller


REDIS_KEY = "finfleet:gw:traffic"


class TrafficPolicies:
    """name → policy, set at start (`GATEWAY_TRAFFIC`) and changed through the admin routes.

    With Redis, a change is also written to one hash that every gateway replica reads on its
    version poll, so a policy set through one replica holds on all of them within a poll; a
    Redis outage leaves each replica with the policies it has."""

    def __init__(self, initial: dict[str, TrafficPolicy], redis=None) -> None:
        self._policies = dict(initial)
        self.redis = redis

    async def publish(self, name: str, policy: TrafficPolicy) -> None:
        self.set(name, policy)
        if self.redis is not None:
            await self.redis.hset(REDIS_KEY, name, policy.model_dump_json())

    async def sync(self) -> None:
        if self.redis is None:
            return
        for name, raw in (await self.redis.hgetall(REDIS_KEY)).items():
            key = name.decode() if isinstance(name, bytes) else name
            self._policies[key] = TrafficPolicy.model_validate_json(raw)

    async def sync_forever(self, every_seconds: float, logger: logging.Logger) -> None:
        while True:
            try:
                await self.sync()
            except Exception as exc:  # Redis away: keep what we have
                logger.debug("traffic policies not synced", extra={"error": str(exc)})
            await asyncio.sleep(every_seconds)

    def get(self, name: str) -> TrafficPolicy:
        return self._policies.get(name, NO_POLICY)

    def set(self, name: str, policy: TrafficPolicy) -> None:
        self._policies[name] = policy

    def canary(self, name: str, instances: list[Any], caller: str) -> bool:
        percent = self.get(name).canary_percent
        return percent > 0 and bucket(name, sticky_key(instances, caller)) < percent

    def shadow(self, name: str) -> bool:
        percent = self.get(name).shadow_percent
        return percent > 0 and (percent >= 100 or random.random() * 100 < percent)


@dataclass
class ShadowCall:
    model: str
    version: str
    instances: list[Any]
    production: list[Any]  # the caller's answer, to compare with
    production_seconds: float
    request_id: str | None
    queued_at: float
    trace: Any = None  # the request's trace context (kit.tracing.carried_context) when traced
    # production's prediction-log ids for the same instances: the copy names them, so the log
    # pairs it with the prediction it copies (the caller's X-Request-ID may be reused)
    production_ids: list[str | None] | None = None
    cache_keys: list[str] | None = None  # production's, to remember the pairs' comparison by


Send = Callable[[list[ShadowCall]], Awaitable[None]]


class ShadowQueue:
    """Bounded: `offer` never waits; `workers` tasks send what is queued, each taking what has
    queued up behind its first call (up to `batch_max` instances, one model and version) as
    one batch: one upstream exchange and one predict for many copies, which is what the
    gateway's shadow work costs per copy (docs/releases.md, "What a 100 % shadow costs").
    One worker at a time gathers a batch; when nothing is queued behind its first copy it
    waits `batch_wait_s` for more (nobody waits for a shadow's answer), while the others send
    theirs. A backlog, or copies of several models interleaved, go without waiting."""

    def __init__(self, send: Send, maxsize: int, workers: int, logger: logging.Logger,
                 on_drop: Callable[[str], None], batch_max: int = 1,
                 batch_wait_s: float = 0.0) -> None:
        self.send = send
        self.queue: asyncio.Queue[ShadowCall] = asyncio.Queue(maxsize)
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self._gathering = asyncio.Lock()
        self._held: ShadowCall | None = None  # taken from the queue, another batch's first
        self.workers = workers
        self.logger = logger
        self.on_drop = on_drop
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def full(self) -> bool:
        return self.queue.full()

    def offer(self, call: ShadowCall) -> bool:
        try:
            self.queue.put_nowait(call)
        except asyncio.QueueFull:
            self.on_drop(call.model)
            return False
        return True

    def _batch(self, first: ShadowCall) -> list[ShadowCall]:
        """`first` and the calls queued behind it for the same model and version, up to
        `batch_max` instances; the first that does not fit waits for the next batch."""
        batch, size = [first], len(first.instances)
        while not self.queue.empty():
            call = self.queue.get_nowait()
            self.queue.task_done()
            if ((call.model, call.version) != (first.model, first.version)
                    or size + len(call.instances) > self.batch_max):
                self._held = call
                break
            batch.append(call)
            size += len(call.instances)
        return batch

    async def _gather(self) -> list[ShadowCall]:
        async with self._gathering:
            if self._held is not None:
                first, self._held = self._held, None
            else:
                first = await self.queue.get()
                self.queue.task_done()
            if self.batch_wait_s > 0 and self.queue.empty():  # a trickle: let copies queue
                await asyncio.sleep(self.batch_wait_s)  # behind it (a backlog is sent at once)
            return self._batch(first)

    async def _work(self) -> None:
        while True:
            batch = await self._gather()
            first = batch[0]
            try:
                await self.send(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failing candidate is counted by its own upstream
                self.logger.debug("shadow call failed", extra={"model": first.model,
                                                               "error": str(exc)})

    def stats(self) -> dict[str, Any]:
        return {"queued": self.queue.qsize() + (self._held is not None),
                "max": self.queue.maxsize, "workers": self.workers,
                "batch_max": self.batch_max, "batch_wait_ms": 1000 * self.batch_wait_s}


def policy_dict(policy: TrafficPolicy, candidate: str | None) -> dict[str, Any]:
    out = policy.model_dump()
    out["candidate_version"] = candidate
    if policy.active and candidate is None:
        out["note"] = ("no candidate is loaded: every request goes to production (set "
                       "<NAME>_SERVE_CANDIDATE=true on the service and a `candidate` alias)")
    return out
