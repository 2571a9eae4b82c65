"""Prometheus metrics on a registry per app (no global state), named as DESIGN.md says.

A service run as several worker processes on one port (`<NAME>_WORKERS`, kit/serve.py) keeps
its values in prometheus-client's multi-process files instead (`PROMETHEUS_MULTIPROC_DIR`, set
by the supervisor before any worker starts): a scrape, whichever worker answers it, reads every
worker's. Each gauge says how the workers' values combine (`multiprocess_mode`, ignored by a
single process), and a series that is dropped is first set to what it should read once gone,
because the files keep a value after the series is removed.
"""

from __future__ import annotations

import contextlib
import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The shared metrics folder of a multi-worker service; None in a single process."""
    return os.environ.get(MULTIPROCESS_ENV) or None


def exposition(registry: CollectorRegistry) -> bytes:
    """The text a scrape gets: this registry's, or every worker's when there are several."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(registry)
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, directory)
    return generate_latest(merged)


def process_exiting(pid: int | None = None) -> None:
    """Drop a finished worker's live gauges (its own files), so a scrape stops counting it."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid() if pid is None else pid)


def retire(gauge: Gauge, labels: tuple[str, ...], gone: float) -> None:
    """Remove a gauge's series. Workers' files cannot drop one (prometheus-client keeps a
    value for each until the worker ends), so there it is set to `gone` instead."""
    if multiprocess_dir() is not None:
        gauge.labels(*labels).set(gone)
        return
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class CachedLabels:
    """A metric whose `labels(...)` children are kept: prometheus-client resolves them under a
    lock on every call, and the hot paths ask for the same few label sets (bounded: routes,
    statuses, models, outcomes) on every request. Everything else is the metric's own."""

    def __init__(self, metric) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], object] = {}

    def labels(self, *values: str):
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child

    def __getattr__(self, name: str):
        return getattr(self._metric, name)


class HttpMetrics:
    """Request counters and latency histograms shared by the services and the gateway."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        self.requests = CachedLabels(Counter(
            "finfleet_http_requests", "HTTP requests served",
            ["service", "route", "status"], registry=self.registry,
        ))
        self.duration = CachedLabels(Histogram(
            "finfleet_http_request_duration_seconds", "HTTP request latency",
            ["service", "route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        ))

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, route, str(status)).inc()
        self.duration.labels(self.service, route).observe(seconds)


class ModelMetrics(HttpMetrics):
    """Adds prediction outcomes and the loaded model's version."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        super().__init__(service, registry)
        self.predictions = CachedLabels(Counter(
            "finfleet_predictions", "Instances predicted, by outcome",
            ["service", "outcome"], registry=self.registry,
        ))
        # Shadow copies (the version route with `X-Finfleet-Shadow: 1`) count here, not above:
        # shadow traffic never doubles the callers' counts.
        self.shadow_predictions = CachedLabels(Counter(
            "finfleet_shadow_predictions", "Instances predicted for shadow copies of requests, "
            "by outcome", ["service", "outcome"], registry=self.registry,
        ))
        self.batch_size = Histogram(
            "finfleet_batch_size", "Instances in each model call that adaptive batching made "
            "(kit/batching.py), one caller's or several callers' together", ["service"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=self.registry,
        ).labels(service)
        self.model_info = Gauge(
            "finfleet_model_info", "The model version being served (value 1)",
            ["service", "version"], registry=self.registry, multiprocess_mode="liveall",
        )
        self._version: str | None = None
        self.model_ready = Gauge(
            "finfleet_model_ready", "1 once the model is loaded and serving, 0 before",
            ["service"], registry=self.registry, multiprocess_mode="livemin",
        )
        self.model_ready.labels(service).set(0)
        self.reloads = CachedLabels(Counter(
            "finfleet_model_reloads", "Model version swaps attempted, by outcome "
            "(swapped, failed)", ["service", "outcome"], registry=self.registry,
        ))
        for outcome in ("swapped", "failed"):  # both series exist from the start (alerts)
            self.reloads.labels(service, outcome)
        self.release_seq = Gauge(
            "finfleet_model_release_seq", "Sequence number of the registry change being "
            "served (0: no alias yet)", ["service"], registry=self.registry,
            multiprocess_mode="livemin",
        )
        self.predict_duration = CachedLabels(Histogram(
            "finfleet_predict_duration_seconds", "Model predict time per batch",
            ["service"], buckets=LATENCY_BUCKETS, registry=self.registry,
        ))

    def set_version(self, version: str) -> None:
        if self._version is not None and self._version != version:
            retire(self.model_info, (self.service, self._version), 0)
        self._version = version
        self.model_info.labels(self.service, version).set(1)
        self.model_ready.labels(self.service).set(1)
