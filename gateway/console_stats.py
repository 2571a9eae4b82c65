"""Per-model live numbers for the console, read from the gateway's own Prometheus registry:
upstream calls by outcome and their latency histogram. Totals are cumulative; the page turns
two polls into a rate, so the gateway keeps no extra state for the console."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The q-quantile from cumulative (upper bound, count) buckets, linear within a bucket."""
    if not buckets or buckets[-1][1] == 0:
        return None
    target, lower, below = q * buckets[-1][1], 0.0, 0.0
    for upper, count in buckets:
        if count >= target:
            if upper == float("inf"):
                return lower
            share = (target - below) / (count - below) if count > below else 0.0
            return lower + (upper - lower) * share
        lower, below = upper, count
    return lower


def model_stats(registry: CollectorRegistry) -> dict[str, dict[str, Any]]:
    """upstream → {requests, errors, p50_ms, p99_ms} since the gateway started."""
    stats: dict[str, dict[str, Any]] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            name = sample.labels.get("upstream")
            if name is None:
                continue
            row = stats.setdefault(name, {"requests": 0.0, "errors": 0.0})
            if sample.name == "finfleet_upstream_requests_total":
                row["requests"] += sample.value
                if sample.labels.get("outcome") != "ok":
                    row["errors"] += sample.value
            elif sample.name == "finfleet_upstream_request_duration_seconds_bucket":
                buckets.setdefault(name, []).append((float(sample.labels["le"]), sample.value))
    for name, row in stats.items():
        ordered = sorted(buckets.get(name, []))
        for key, q in (("p50_ms", 0.5), ("p99_ms", 0.99)):
            value = quantile(ordered, q)
            row[key] = None if value is None else round(value * 1000, 2)
    return stats
