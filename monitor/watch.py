"""One monitor run: per model, the window of the log → per-version reports → metrics, the latest
answer for the endpoint, and a short history of dataset scores.

Runs in a worker thread (the reads and the statistics are blocking); the endpoint reads the
latest results, which a run replaces whole, so a reader never sees half a run.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from kit.drift_window import VersionDrift, WindowSpec, read_window, version_reports
from kit.metrics import CachedLabels
from kit.predlog_store import LogStore, open_log_store
from kit.profile import reference_profile
from kit.registry import open_registry
from monitor.settings import MonitorSettings


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.feature = Gauge(
            "finfleet_drift_score", "Drift score of one feature of a served version over the "
            "monitor's window (0-1; warning 0.3, critical 0.5)", ["model", "version", "feature"],
            registry=registry)
        self.dataset = Gauge(
            "finfleet_drift_dataset_score", "Dataset drift score of a served version: the larger "
            "of the drifted shares of its inputs and outputs (0-1; warning 0.3, critical 0.5)",
            ["model", "version"], registry=registry)
        self.window = Gauge(
            "finfleet_drift_window_records", "Logged predictions of a version in the window, "
            "by whether they were scored (scored: they carry features)",
            ["model", "version", "kind"], registry=registry)
        self.last_run = Gauge("finfleet_drift_last_run_timestamp_seconds",
                              "When the monitor last scored the model (unix seconds)", ["model"],
                              registry=registry)
        self.errors = CachedLabels(Counter(
            "finfleet_drift_errors", "Monitor runs that failed for a model (log or registry "
            "unreadable)", ["model"], registry=registry))
        self.run_seconds = Gauge("finfleet_drift_run_seconds",
                                 "How long the last run over every model took", registry=registry)


@dataclass
class ModelDrift:
    """What the endpoint answers for one model: the latest run and the history."""

    model: str
    checked_at: float | None = None
    versions: dict[str, VersionDrift] = field(default_factory=dict)
    error: str | None = None


class Profiles:
    """Reference profiles by (model, version), read once from the artifact store or registry
    (a version's manifest never changes)."""

    def __init__(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self._cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    def get(self, model: str, version: str) -> dict[str, Any] | None:
        key = (model, version)
        if key not in self._cache:
            where = SimpleNamespace(model_dir=self.settings.store_of(model),
                                    mlflow_tracking_uri=self.settings.mlflow_tracking_uri)
            artifact = open_registry(where, model).fetch(version)
            self._cache[key] = reference_profile(artifact.manifest)
        return self._cache[key]


class DriftMonitor:
    def __init__(self, settings: MonitorSettings, models: list[str], registry: CollectorRegistry,
                 logger: logging.Logger,
                 store_of: Callable[[str], LogStore] | None = None) -> None:
        self.settings = settings
        self.models = models
        self.logger = logger
        self.registry = registry
        self.metrics = DriftMetrics(registry)
        for model in models:
            self.metrics.errors.labels(model)
        self.specs = {m: WindowSpec(settings.window_of(m), settings.window_max,
                                    settings.window_min) for m in models}
        self.profiles = Profiles(settings)
        self._stores: dict[str, LogStore] = {}
        self._store_of = store_of or self._open_store
        self.latest: dict[str, ModelDrift] = {m: ModelDrift(m) for m in models}
        self.history: dict[tuple[str, str], deque[tuple[float, float]]] = {}
        self._series: dict[str, set[tuple[str, ...]]] = {m: set() for m in models}
        self.runs = 0

    def _open_store(self, model: str) -> LogStore:
        key = "" if self.settings.log_url else model  # one server for every model: one store
        if key not in self._stores:
            self._stores[key] = open_log_store(self.settings.log_url,
                                               self.settings.log_dir_of(model))
        return self._stores[key]

    def run_once(self, now: float | None = None) -> None:
        started = time.monotonic()
        for model in self.models:
            self.check(model, time.time() if now is None else now)
        self.metrics.run_seconds.set(round(time.monotonic() - started, 4))
        self.runs += 1

    def check(self, model: str, now: float) -> ModelDrift:
        try:
            rows = read_window(self._store_of(model), model, self.specs[model], now)
            versions = version_reports(rows, lambda v: self.profiles.get(model, v),
                                       self.specs[model].minimum)
        except Exception as exc:  # a log or registry that is down: said, tried again next run
            self.metrics.errors.labels(model).inc()
            self.logger.warning("drift check failed", extra={"model": model, "error": str(exc)})
            result = ModelDrift(model, now, self.latest[model].versions, f"{exc}")
            self.latest[model] = result
            return result
        result = ModelDrift(model, now, versions)
        self.publish(model, versions, now)
        self.latest[model] = result
        return result

    def publish(self, model: str, versions: dict[str, VersionDrift], now: float) -> None:
        """Set this run's series and remove those of versions (or features) no longer in the
        window; append each scored version's dataset score to its history."""
        fresh: set[tuple[str, ...]] = set()
        for version, drift in versions.items():
            self.metrics.window.labels(model, version, "records").set(drift.records)
            self.metrics.window.labels(model, version, "scored").set(drift.scored)
            fresh |= {("window", model, version, "records"), ("window", model, version, "scored")}
            if drift.report is None:
                continue
            self.metrics.dataset.labels(model, version).set(drift.report.score)
            fresh.add(("dataset", model, version))
            for name, feature in drift.report.features.items():
                self.metrics.feature.labels(model, version, name).set(feature.score)
                fresh.add(("feature", model, version, name))
            points = self.history.setdefault((model, version),
                                             deque(maxlen=self.settings.history_points))
            points.append((round(now, 3), drift.report.score))
        for stale in self._series[model] - fresh:
            with contextlib.suppress(KeyError):
                getattr(self.metrics, stale[0]).remove(*stale[1:])
        for key in [k for k in self.history if k[0] == model and k[1] not in versions]:
            del self.history[key]  # the version left the window: its chart goes with its series
        self._series[model] = fresh
        self.metrics.last_run.labels(model).set(now)

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
