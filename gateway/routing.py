"""Which version answers a request: production, or the candidate for a canaried caller; and
the shadow copy sent after production's answer. Everything else (the cache, coalescing, one
version per answer) is the predictor's, for whichever version answers.

A canaried request that the candidate cannot answer (its circuit open, it failed, or no replica
holds it any more) is answered by production and counted, so a bad candidate costs its callers
a retry at most, never an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from gateway.compare import Comparisons, RememberedPairs
from gateway.metrics import GatewayMetrics
from gateway.predictor import CachedPredictor, Prediction
from gateway.traffic import ShadowCall, ShadowQueue, TrafficPolicies
from gateway.upstream import CANDIDATE, SHADOW, UpstreamPool, UpstreamRejected
from gateway.versions import ModelVersions
from kit.catalog import load_catalog
from kit.errors import ProblemError
from kit.tracing import carried_context, resumed

SHADOW_OF_HEADER = "X-Finfleet-Shadow-Of"  # read by kit.predlog.shadow_of


class Router:
    def __init__(self, predictor: CachedPredictor, pool: UpstreamPool, versions: ModelVersions,
                 traffic: TrafficPolicies, metrics: GatewayMetrics,
                 comparisons: Comparisons, remembered: RememberedPairs | None = None) -> None:
        self.predictor = predictor
        self.pool = pool
        self.versions = versions
        self.traffic = traffic
        self.metrics = metrics
        self.comparisons = comparisons
        self.remembered = remembered or RememberedPairs()
        self.shadows: ShadowQueue | None = None  # set by the app's lifespan
        self.shadow_copies = {row.name: row.shadow_copies for row in load_catalog().services
                              if row.shadow_copies}

    async def predict(self, name: str, instances: list[Any], *, caller: Callable[[], str],
                      request_id: str | None = None, use_cache: bool = True) -> Prediction:
        """Raises the upstream's ProblemError, or UpstreamRejected for its 4xx answers.
        `caller` names who asks (for a sticky canary), asked only when a canary is on."""
        policy = self.traffic.get(name)
        if not policy.active:  # the common case: production, nothing else to do
            return await self.predictor.predict(name, instances, request_id=request_id,
                                                use_cache=use_cache)
        candidate = self.versions.candidate(name)
        if (candidate is not None and policy.canary_percent > 0
                and self.traffic.canary(name, instances, caller())):
            answer = await self._canary(name, candidate, instances, request_id, use_cache)
            if answer is not None:
                return answer
        shadow = candidate is not None and self.traffic.shadow(name)
        started = time.perf_counter()
        answer = await self.predictor.predict(name, instances, request_id=request_id,
                                              use_cache=use_cache)
        seconds = time.perf_counter() - started
        if policy.canary_percent > 0:
            self.comparisons.record_latency(name, "production", seconds, "canary")
        if shadow:
            self._offer_shadow(answer, candidate, instances, seconds, request_id)
        return answer

    async def _canary(self, name: str, candidate: str, instances: list[Any],
                      request_id: str | None, use_cache: bool) -> Prediction | None:
        upstream = self.pool.version_upstream(name, CANDIDATE, candidate)
        started = time.perf_counter()
        try:
            answer = await self.predictor.predict_on(upstream, candidate, instances,
                                                     request_id=request_id, use_cache=use_cache)
        except UpstreamRejected as exc:
            if exc.status != 404:  # the caller's input: production would refuse it too
                raise
            self.metrics.canary.labels(name, "fallback").inc()
            return None
        except ProblemError:
            self.metrics.canary.labels(name, "fallback").inc()
            return None
        self.metrics.canary.labels(name, "candidate").inc()
        self.comparisons.record_latency(name, CANDIDATE, time.perf_counter() - started, "canary")
        return answer

    def _offer_shadow(self, answer: Prediction, candidate: str, instances: list[Any],
                      seconds: float, request_id: str | None) -> None:
        if candidate == answer.model_version or self.shadows is None:
            return
        if answer.cached and answer.cache_keys:
            pairs = self.remembered.get(candidate, answer.cache_keys)
            if pairs is not None:  # compared when first answered: count it, send nothing,
                asyncio.get_running_loop().call_soon(  # after the caller's answer is on its way
                    self._recount, answer.model_name, pairs)
                return
        if self.shadows.full():  # dropped before the copy is built: a saturated candidate's
            self.shadows.on_drop(answer.model_name)  # drops cost the caller nothing more
            return
        copies = self.shadow_copies.get(answer.model_name)
        if copies:
            instances = [_with_copies(i, p, copies)
                         for i, p in zip(instances, answer.predictions, strict=True)]
        self.shadows.offer(ShadowCall(answer.model_name, candidate, instances,
                                      answer.predictions, seconds, request_id,
                                      time.perf_counter(), self._trace(), answer.prediction_ids,
                                      answer.cache_keys))

    def _recount(self, model: str, pairs: list[dict[str, float | None]]) -> None:
        self.comparisons.recount(model, pairs)
        self.metrics.shadow.labels(model, "remembered").inc()

    def _trace(self) -> Any:
        """The request's trace context, for its shadow copy sent from a worker task."""
        return carried_context() if self.pool.traced else None

    async def send_shadow(self, calls: list[ShadowCall]) -> None:
        """A ShadowQueue worker's batch: one flagged, uncached call to the candidate with every
        copy's instances (the first copy's trace and request id), then each copy compared with
        its own production answer."""
        first = calls[0]
        upstream = self.pool.version_upstream(first.model, SHADOW, first.version)
        instances = [i for call in calls for i in call.instances]
        ids = [i for call in calls
               for i in (call.production_ids or [None] * len(call.instances))]
        started = time.perf_counter()
        try:
            with resumed(first.trace):
                answer = await upstream.predict(instances, first.request_id,
                                                headers=shadow_of(ids))
        except (ProblemError, UpstreamRejected):
            self.metrics.shadow.labels(first.model, "failed").inc(len(calls))
            raise
        seconds = time.perf_counter() - started
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(instances):
            self.metrics.shadow.labels(first.model, "failed").inc(len(calls))
            return
        self.metrics.shadow.labels(first.model, "sent").inc(len(calls))
        at = 0
        for call in calls:
            n = len(call.instances)
            pairs = self.comparisons.record(call.model, call.production, predictions[at:at + n],
                                            call.production_seconds, seconds, "shadow")
            if call.cache_keys:
                self.remembered.put(call.version, call.cache_keys, pairs)
            at += n


def shadow_of(ids: list[str | None] | None) -> dict[str, str] | None:
    """`X-Finfleet-Shadow-Of`: production's ids, comma-separated (empty where an instance has
    none); no header where production logged none of them (a cached or unsampled answer)."""
    if not ids or not any(ids):
        return None
    return {SHADOW_OF_HEADER: ",".join(i or "" for i in ids)}


def _with_copies(instance: Any, prediction: Any, fields: tuple[str, ...]) -> Any:
    """The instance with production's values of `fields` where it has none."""
    if not isinstance(instance, dict) or not isinstance(prediction, dict):
        return instance
    missing = {f: prediction[f] for f in fields if f in prediction and instance.get(f) is None}
    return {**instance, **missing} if missing else instance
