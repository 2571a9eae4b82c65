"""The console's live numbers from a registry (no servers)."""

from gateway.console_stats import model_stats, quantile
from gateway.metrics import GatewayMetrics


def test_quantiles_interpolate_within_a_bucket():
    buckets = [(0.01, 50.0), (0.1, 100.0), (float("inf"), 100.0)]
    assert quantile(buckets, 0.5) == 0.01
    assert abs(quantile(buckets, 0.75) - 0.055) < 1e-9
    assert quantile([], 0.5) is None


def test_model_stats_count_calls_errors_and_latency_per_upstream():
    metrics = GatewayMetrics()
    for _ in range(3):
        metrics.upstream_requests.labels("credit", "ok").inc()
        metrics.upstream_duration.labels("credit").observe(0.004)
    metrics.upstream_requests.labels("credit", "timeout").inc()
    stats = model_stats(metrics.registry)["credit"]
    assert stats["requests"] == 4 and stats["errors"] == 1
    assert 2.5 <= stats["p50_ms"] <= 5
