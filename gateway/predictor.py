"""Predict through the cache: per-instance lookups, coalesced misses, version-consistent answers.

Identical misses in flight share one upstream call (`_inflight` maps cache key → future). The
first caller makes the call in its own task (no extra task: each one costs event-loop turns on
the miss path); if it leaves before the answer (a client disconnect cancels it), the callers
waiting on it ask the upstream themselves, so none is stranded.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.cache import CacheUnavailable, PredictionCache, instance_key
from gateway.metrics import GatewayMetrics
from gateway.settings import GatewaySettings
from gateway.upstream import (
    PRODUCTION,
    Upstream,
    UpstreamFailed,
    UpstreamPool,
    UpstreamRejected,
)
from gateway.versions import ModelVersions

_INSTANCE_FIELD = re.compile(r"^instances\[(\d+)\]")


@dataclass
class Prediction:
    model_name: str
    model_version: str
    predictions: list[Any]
    # The service's prediction-log ids, parallel to `predictions`: None where the answer came
    # from the cache (it never reached a service, so nothing was logged) or was not sampled.
    prediction_ids: list[str | None] | None = None
    # The instances' cache keys (None: the model is not cached), and whether every answer came
    # from the cache: a shadow of such an answer can reuse the pair's earlier comparison.
    cache_keys: list[str] | None = None
    cached: bool = False


class CachedPredictor:
    def __init__(self, pool: UpstreamPool, cache: PredictionCache, versions: ModelVersions,
                 metrics: GatewayMetrics, settings: GatewaySettings) -> None:
        self.pool = pool
        self.cache = cache
        self.versions = versions
        self.metrics = metrics
        self.settings = settings
        self._inflight: dict[str, asyncio.Future] = {}

    async def predict(self, name: str, instances: list[Any], *, request_id: str | None = None,
                      use_cache: bool = True) -> Prediction:
        """Production's answer. Raises the upstream's ProblemError, or UpstreamRejected for its
        4xx answers."""
        return await self.predict_on(self.pool.get(name), self.versions.get(name), instances,
                                     request_id=request_id, use_cache=use_cache)

    async def predict_on(self, upstream: Upstream, version: str | None, instances: list[Any],
                         *, request_id: str | None = None, use_cache: bool = True) -> Prediction:
        """The answer of `upstream` (production, or a candidate version's), cached under
        `version` (None: not known yet, nothing is looked up)."""
        name = upstream.name
        ttl = self.settings.cache_ttl_for(name)
        if ttl <= 0:
            version, predictions, ids = await self._call(
                upstream, instances, list(range(len(instances))), request_id)
            return Prediction(name, version, predictions, ids)
        keys = [instance_key(name, version or "?", instance) for instance in instances]
        results: list[tuple[str, Any, str | None] | None] = [None] * len(instances)
        if use_cache and version is not None:
            await self._lookup(name, version, keys, results)
        elif not use_cache:
            self.metrics.cache.labels(name, "bypass").inc(len(instances))
        missing = [i for i, found in enumerate(results) if found is None]
        if missing:
            await self._fill(upstream, instances, keys, missing, results, ttl, request_id)
        answer = await self._consistent(upstream, instances, results, request_id)
        if answer.model_version == version:  # the keys name the version that answered
            answer.cache_keys, answer.cached = keys, not missing
        return answer

    async def _lookup(self, name: str, version: str, keys: list[str],
                      results: list[tuple[str, Any, str | None] | None]) -> None:
        try:
            cached = await self.cache.get_many(keys)
        except CacheUnavailable:
            self.metrics.cache.labels(name, "error").inc(len(keys))
            return
        hits = 0
        for i, value in enumerate(cached):
            if value is not None:
                results[i] = (version, value, None)
                hits += 1
        if hits:
            self.metrics.cache.labels(name, "hit").inc(hits)

    async def _fill(self, upstream: Upstream, instances: list[Any], keys: list[str],
                    missing: list[int], results: list, ttl: float,
                    request_id: str | None) -> None:
        loop = asyncio.get_running_loop()
        led: list[int] = []
        waiting: list[tuple[int, asyncio.Future]] = []
        for i in missing:
            future = self._inflight.get(keys[i])
            if future is None:
                future = loop.create_future()
                future.add_done_callback(_mark_retrieved)
                self._inflight[keys[i]] = future
                led.append(i)
            waiting.append((i, future))
        joined = len(missing) - len(led)
        if joined:
            self.metrics.cache.labels(upstream.name, "coalesced").inc(joined)
        if led:
            self.metrics.cache.labels(upstream.name, "miss").inc(len(led))
            await self._lead(upstream, instances, keys, led, ttl, request_id)
        led_set = set(led)
        retry: list[int] = []
        for i, future in waiting:
            try:
                results[i] = future.result() if i in led_set else await asyncio.shield(future)
            except UpstreamRejected as exc:
                if i in led_set:
                    raise _renumbered(exc, led) from None
                retry.append(i)  # another request's batch was refused; ours may be fine
            except asyncio.CancelledError:
                if i in led_set or not future.cancelled() or _being_cancelled():
                    raise
                retry.append(i)  # the request leading this call left before its answer
        if retry:
            batch = [instances[i] for i in retry]
            version, predictions, ids = await self._call(upstream, batch, retry, request_id)
            for i, prediction, pid in zip(retry, predictions, ids, strict=True):
                results[i] = (version, prediction, pid)
            await self._store(upstream.name, version, batch, predictions, ttl)

    async def _lead(self, upstream: Upstream, instances: list[Any], keys: list[str],
                    led: list[int], ttl: float, request_id: str | None) -> None:
        """Call the upstream for the led instances, settle their futures and write the cache
        before answering (so the next identical request hits it); the keys stay in flight until
        then, so an identical request meanwhile joins rather than calls again."""
        futures = [self._inflight[keys[i]] for i in led]
        try:
            batch = [instances[i] for i in led]
            try:
                version, predictions, ids = await self._call(upstream, batch, None,
                                                             request_id)
            except asyncio.CancelledError:
                for future in futures:
                    future.cancel()
                raise
            except Exception as exc:
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
                return  # each caller raises it from its future
            for future, prediction, pid in zip(futures, predictions, ids, strict=True):
                if not future.done():
                    future.set_result((version, prediction, pid))
            await self._store(upstream.name, version, batch, predictions, ttl)
        finally:
            for i, future in zip(led, futures, strict=True):
                if self._inflight.get(keys[i]) is future:
                    del self._inflight[keys[i]]

    async def _store(self, name: str, version: str, batch: list[Any], predictions: list[Any],
                     ttl: float) -> None:
        fresh = {instance_key(name, version, b): p
                 for b, p in zip(batch, predictions, strict=True)}
        try:
            await self.cache.set_many(fresh, ttl)
        except CacheUnavailable:
            self.metrics.cache.labels(name, "error").inc(len(fresh))

    async def _call(self, upstream: Upstream, batch: list[Any], positions: list[int] | None,
                    request_id: str | None, want_version: str | None = None
                    ) -> tuple[str, list[Any], list[str | None]]:
        """One upstream predict: version, predictions, their log ids; learns the version; 4xx
        field names follow `positions`."""
        try:
            answer = await upstream.predict(batch, request_id, want_version=want_version)
        except UpstreamRejected as exc:
            if positions is None:
                raise
            raise _renumbered(exc, positions) from None
        predictions = answer["predictions"]
        if len(predictions) != len(batch):
            raise UpstreamFailed(f"upstream '{upstream.name}' answered {len(predictions)} "
                                 f"predictions for {len(batch)} instances")
        version = str(answer.get("model_version") or "unknown")
        if upstream.role == PRODUCTION:
            self.versions.learn(upstream.name, version)
        ids = answer.get("prediction_ids")
        if not isinstance(ids, list) or len(ids) != len(batch):
            ids = [None] * len(batch)
        return version, predictions, ids

    async def _consistent(self, upstream: Upstream, instances: list[Any], results: list,
                          request_id: str | None) -> Prediction:
        """One response carries one model version: answers made by another version than the
        current one are fetched again; if replicas still disagree (mid-release), the whole
        request is asked once more, so its answer is one version's, old or new — and, where the
        registry orders versions, a whole answer of an older release is asked for once more."""
        if len({version for version, *_ in results}) > 1:
            current = self.versions.get(upstream.name)
            stale = [i for i, (version, *_) in enumerate(results) if version != current]
            await self._refetch(upstream, instances, results, stale, request_id)
        if len({version for version, *_ in results}) > 1:
            await self._refetch(upstream, instances, results, list(range(len(results))),
                                request_id)
        version = results[0][0]
        current = self.versions.get(upstream.name)
        if upstream.role == PRODUCTION and version != current and self.versions.seq(upstream.name):
            # a replica still on the other side of a release (or still loading): ask the
            # others for the current version
            await self._refetch(upstream, instances, results, list(range(len(results))),
                                request_id, want_version=current)
            version = results[0][0]
        return Prediction(upstream.name, version, [p for _, p, _ in results],
                          [pid for *_, pid in results])

    async def _refetch(self, upstream: Upstream, instances: list[Any], results: list,
                       positions: list[int], request_id: str | None,
                       want_version: str | None = None) -> None:
        version, predictions, ids = await self._call(
            upstream, [instances[i] for i in positions], positions, request_id, want_version)
        for i, prediction, pid in zip(positions, predictions, ids, strict=True):
            results[i] = (version, prediction, pid)

def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _mark_retrieved(future: asyncio.Future) -> None:
    """A failure nobody waited for (its caller left) is not an unretrieved-exception warning."""
    if not future.cancelled():
        future.exception()


def _renumbered(exc: UpstreamRejected, positions: list[int]) -> UpstreamRejected:
    """The upstream saw a sub-batch; name fields by their index in the caller's request."""
    try:
        body = orjson.loads(exc.body)
    except orjson.JSONDecodeError:
        return exc
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return exc
    for error in body["errors"]:
        field = error.get("field") if isinstance(error, dict) else None
        match = _INSTANCE_FIELD.match(field) if isinstance(field, str) else None
        if match and int(match.group(1)) < len(positions):
            error["field"] = f"instances[{positions[int(match.group(1))]}]" + field[match.end():]
    return UpstreamRejected(exc.status, orjson.dumps(body), exc.content_type)
