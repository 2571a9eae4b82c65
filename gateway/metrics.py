"""Gateway metrics on the kit's HttpMetrics registry: cache, upstream calls, circuit state."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from kit.metrics import LATENCY_BUCKETS, CachedLabels, HttpMetrics


class GatewayMetrics(HttpMetrics):
    """Adds what only the gateway knows: cache results, upstream outcomes, breaker states."""

    def __init__(self) -> None:
        super().__init__("gateway")
        self.cache = CachedLabels(Counter(
            "finfleet_cache_requests", "Cache lookups per instance, by result "
            "(hit, miss, coalesced, bypass, error)",
            ["model", "result"], registry=self.registry,
        ))
        self.upstream_requests = CachedLabels(Counter(
            "finfleet_upstream_requests", "Calls to upstream services, by outcome",
            ["upstream", "outcome"], registry=self.registry,
        ))
        self.upstream_duration = CachedLabels(Histogram(
            "finfleet_upstream_request_duration_seconds", "Upstream call latency",
            ["upstream"], buckets=LATENCY_BUCKETS, registry=self.registry,
        ))
        self.circuit_state = CachedLabels(Gauge(
            "finfleet_circuit_state", "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open",
            ["upstream"], registry=self.registry,
        ))
        self.canary = CachedLabels(Counter(
            "finfleet_canary_requests", "Canaried requests, by who answered (candidate, "
            "fallback: production, as the candidate could not)",
            ["model", "outcome"], registry=self.registry,
        ))
        self.shadow = CachedLabels(Counter(
            "finfleet_shadow_requests", "Shadow copies to the candidate, by outcome "
            "(sent, failed, dropped: the queue was full, remembered: a cached answer's pair "
            "compared before, counted without sending)",
            ["model", "outcome"], registry=self.registry,
        ))
        self.rate_limited = Counter(
            "finfleet_rate_limited", "Requests refused with 429", registry=self.registry,
        )
