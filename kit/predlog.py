"""The prediction log: every sampled prediction of a service, written off the hot path.

On a request, `PredictionLog.offer` does only what the caller's answer needs and what is cheaper
there than later: a sampling draw, the prediction ids it returns, each instance and prediction
as JSON bytes (orjson, about a microsecond each: the queue then holds bytes, which the garbage
collector never walks, instead of the request's object graphs), and one append to a bounded
deque. When the deque is full the record is dropped and counted; the request never waits. A
background thread drains the deque every `log_flush_seconds`: it builds the rows (user ids hashed
with the configured salt, free text replaced by its length and a summary unless
`<NAME>_LOG_INPUTS` allows it), writes them in one transaction, and counts them written or
failed. A backend that is down costs failed records, never a failed predict; the
next flush reconnects. The same thread computes live quality over the labelled window.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from kit.metrics import CachedLabels
from kit.model import ServedModel
from kit.predlog_store import LogStore, open_log_store

SERVED_BY_HEADER = b"x-finfleet-served-by"
SERVED_BY = frozenset({"production", "canary"})  # what a caller's header may claim
DEV_SALT = "finfleet-dev-salt"
# Requests per write: small enough that building their rows holds the GIL for well under the
# interpreter's 5 ms switch interval, large enough that a commit's cost is shared.
FLUSH_CHUNK = 256


def log_directory(settings: Any) -> Path:
    """`<NAME>_LOG_DIR`, or `logs/predictions` beside the model folder."""
    return settings.log_dir or Path(settings.model_dir).parent / "logs" / "predictions"


class LogMetrics:
    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.records = CachedLabels(Counter(
            "finfleet_predlog_records", "Prediction log records, by outcome (written, dropped: "
            "the queue was full, failed: the backend refused or was down, sampled_out)",
            ["service", "outcome"], registry=registry))
        for outcome in ("written", "dropped", "failed", "sampled_out"):
            self.records.labels(service, outcome)
        self.queue = Gauge("finfleet_predlog_queue_depth", "Records waiting to be written",
                           ["service"], registry=registry)
        self.outcomes = CachedLabels(Counter(
            "finfleet_outcomes", "Outcomes received, by result (stored, unknown)",
            ["service", "result"], registry=registry))
        for result in ("stored", "unknown"):
            self.outcomes.labels(service, result)
        self.quality = Gauge(
            "finfleet_live_quality", "Quality of a served version on its labelled predictions "
            "in the window (auc, average_precision, accuracy, span_f1, relative_error, ...)",
            ["model", "version", "metric"], registry=registry)
        self.labelled = Gauge("finfleet_live_labelled", "Labelled predictions in the window",
                              ["model", "version"], registry=registry)


class PredictionLog:
    """One service's log: the bounded queue, its writer thread, live quality."""

    def __init__(self, model_cls: type[ServedModel], settings: Any, registry: CollectorRegistry,
                 logger: logging.Logger, store: LogStore | None = None) -> None:
        self.model_cls = model_cls
        self.name = model_cls.name
        self.settings = settings
        self.logger = logger
        self.rate = settings.log_sample_rate
        self.max_queue = settings.log_queue_size
        self.salt = (settings.log_salt or DEV_SALT).encode()
        self.store = store or open_log_store(settings.log_url, log_directory(settings),
                                             settings.log_max_bytes, settings.log_keep_files)
        self.metrics = LogMetrics(self.name, registry)
        self.metrics.queue.labels(self.name).set_function(lambda: len(self.queue))
        self.queue: deque[tuple] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._quality_due = 0.0
        self._quality_labels: set[tuple[str, ...]] = set()
        # Prediction ids: a random prefix per process (replicas and restarts never collide)
        # and a counter, so an id costs the request no system call.
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    # -- the request side -------------------------------------------------------------------

    def offer(self, scope: dict, version: str, instances: list[Any], predictions: list[Any],
              seconds: float, shadow: bool) -> Sequence[str | None] | None:
        """The prediction ids for the answer (None entries: not sampled; None: the log is
        off), after queueing the request's record."""
        if self.rate <= 0:
            return None
        n = len(predictions)
        if self.rate < 1 and random.random() >= self.rate:
            self.metrics.records.labels(self.name, "sampled_out").inc(n)
            return [None] * n
        base = f"{self._prefix}{next(self._counter):08x}"
        # Tuples of strings and bytes only: the garbage collector untracks them, so a second
        # of queued records is never walked by it (orjson writes a tuple as a JSON array).
        ids: tuple[str, ...] = (base,) if n == 1 else tuple(f"{base}-{i}" for i in range(n))
        if len(self.queue) >= self.max_queue:
            self.metrics.records.labels(self.name, "dropped").inc(n)
            return ids
        key_field = self.model_cls.log_key_field
        keys = (tuple(p.get(key_field) if isinstance(p, dict) else None for p in predictions)
                if key_field else None)
        try:
            inputs = tuple(_dumps(i) for i in instances)
            outputs = tuple(_dumps(p) for p in predictions)
        except TypeError:  # not JSON (a model's bug the answer would meet too): never the log's
            self.metrics.records.labels(self.name, "failed").inc(n)
            return ids
        self.queue.append((ids, time.time(), version, scope.get("state", {}).get("request_id"),
                           self.served_by(scope, shadow), inputs, outputs, keys, seconds))
        return ids

    # -- the background side ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-predlog",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then close the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
        left = sum(len(record[0]) for record in self.queue)
        if left:  # the backend refused the last drain: what it could not take is lost, counted
            self.queue.clear()
            self.metrics.records.labels(self.name, "failed").inc(left)
        self.store.close()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.log_flush_seconds):
            self.flush()
            if self.settings.quality_seconds > 0 and time.monotonic() >= self._quality_due:
                self._quality_due = time.monotonic() + self.settings.quality_seconds
                self.update_quality()

    def flush(self) -> int:
        """Write every queued record now; the number of predictions written."""
        written = 0
        while self.queue:
            time.sleep(0)  # hands the GIL to the event loop between chunks
            batch = [self.queue.popleft() for _ in range(min(len(self.queue), FLUSH_CHUNK))]
            rows = [row for record in batch for row in self.rows(record)]
            try:
                self.store.write_predictions(rows)
            except Exception as exc:  # down, refused, disk full: counted, the service serves on
                self.metrics.records.labels(self.name, "failed").inc(len(rows))
                if not self._failing:
                    self.logger.warning("prediction log write failed; records are dropped "
                                        "until it recovers", extra={"error": str(exc)})
                self._failing = True
                break  # one try a drain (an unreachable server costs a connect timeout)
            if self._failing:
                self.logger.warning("prediction log writes resumed")
                self._failing = False
            self.metrics.records.labels(self.name, "written").inc(len(rows))
            written += len(rows)
        return written

    def rows(self, record: tuple) -> list[tuple]:
        ids, ts, version, request_id, served_by, instances, predictions, keys, seconds = record
        latency_ms = round(seconds * 1000, 4)
        redacts = bool(self.model_cls.log_user_fields or self.model_cls.log_text_fields)
        out = []
        for i, (pid, instance, prediction) in enumerate(zip(ids, instances, predictions,
                                                            strict=True)):
            user = None
            if redacts:
                logged, user = self.redacted(orjson.loads(instance))
                instance = _dumps(logged)
            key = keys[i] if keys else None
            out.append((pid, request_id, ts, self.name, version, served_by,
                        None if key is None else str(key), user, instance.decode(),
                        prediction.decode(), latency_ms))
        return out

    @staticmethod
    def served_by(scope: dict, shadow: bool) -> str:
        """shadow (flagged copy), canary or production (the gateway's header), else
        production on the main route and `version` on a direct version-addressed call."""
        if shadow:
            return "shadow"
        for key, value in scope.get("headers", ()):
            if key == SERVED_BY_HEADER:
                claimed = value.decode("latin-1").strip().lower()
                if claimed in SERVED_BY:
                    return claimed
        return "version" if "version" in scope.get("path_params", {}) else "production"

    def hashed(self, value: Any) -> str:
        return hmac.new(self.salt, str(value).encode(), hashlib.sha256).hexdigest()[:32]

    def redacted(self, instance: Any) -> tuple[Any, str | None]:
        """The instance as logged (user ids hashed, text summarised unless allowed) and the
        first user id's hash."""
        if not isinstance(instance, dict):
            return instance, None
        logged = dict(instance)
        user = None
        for path in self.model_cls.log_user_fields:
            value = _get(logged, path)
            if value is not None:
                digest = self.hashed(value)
                _set(logged, path, digest)
                user = user or digest
        if not self.settings.log_inputs:
            for path in self.model_cls.log_text_fields:
                value = _get(logged, path)
                if isinstance(value, str):
                    _set(logged, path, {"chars": len(value), "words": len(value.split()),
                                        "digits": sum(c.isdigit() for c in value),
                                        "sha256": self.hashed(value)})
        return logged, user

    # -- live quality -------------------------------------------------------------------------

    def update_quality(self) -> None:
        """`finfleet_live_quality` per version over the labelled window (stale series go)."""
        since = time.time() - self.settings.quality_window_seconds
        try:
            labelled = self.store.labelled(self.name, since)
        except Exception as exc:  # unreachable or refused: reported, tried again later
            self.logger.warning("live quality not computed", extra={"error": str(exc)})
            return
        by_version: dict[str, list[tuple[Any, Any]]] = {}
        for row in labelled:
            if row["served_by"] != "shadow":
                by_version.setdefault(row["version"], []).append((row["output"], row["label"]))
        fresh: set[tuple[str, ...]] = set()
        for version, pairs in by_version.items():
            self.metrics.labelled.labels(self.name, version).set(len(pairs))
            fresh.add((self.name, version))
            for metric, value in self.model_cls.live_quality(pairs).items():
                self.metrics.quality.labels(self.name, version, metric).set(value)
                fresh.add((self.name, version, metric))
        for stale in self._quality_labels - fresh:
            gauge = self.metrics.quality if len(stale) == 3 else self.metrics.labelled
            with contextlib.suppress(KeyError):
                gauge.remove(*stale)
        self._quality_labels = fresh


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def _get(instance: dict, path: str) -> Any:
    node: Any = instance
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set(instance: dict, path: str, value: Any) -> None:
    """Set a dotted path, copying each nested dict on the way (the caller's stays intact)."""
    parts = path.split(".")
    node = instance
    for part in parts[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[parts[-1]] = value
