"""The prediction log: every sampled prediction of a service, written off the hot path.

On a request, `PredictionLog.offer` does only what the caller's answer needs and what is cheaper
there than later: a sampling draw, the prediction ids it returns, the whole record as one JSON
line (one orjson call: the queue then holds bytes, which the garbage collector never walks,
instead of the request's object graphs), and one append to a bounded deque. When the deque is
full the record is dropped and counted; the request never waits.

A background thread drains the deque every `log_flush_seconds`. For a sample of the records —
at most `log_features_per_second` (a token bucket, so a quiet service features every record and
a busy one a bounded share) — it computes the serving version's drift features, the columns the
monitor compares with the version's reference profile (they need the version's own encoder and
fitted state, which live in this process). It then hands chunks of lines, joined, to the log's
writer process (kit/predlog_writer.py), which parses them, hashes user ids with the configured
salt, replaces free text by its length and a summary unless `<NAME>_LOG_INPUTS` allows it,
writes one transaction a chunk and says how many rows went in. A backend that is down, or a
writer that died, costs failed records, never a failed predict; the next flush reconnects or
restarts it. The same thread computes live quality over the labelled window.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from kit.metrics import CachedLabels, multiprocess_dir, retire
from kit.model import ServedModel
from kit.predlog_store import LogStore, open_log_store
from kit.predlog_writer import ACK_TIMEOUT_SECONDS, WriterProcess, WriterUnavailable

SERVED_BY_HEADER = b"x-finfleet-served-by"
# On a shadow copy: production's prediction ids for the same instances, comma-separated, set
# by the gateway from production's answer, so a copy pairs with the prediction it copies.
SHADOW_OF_HEADER = b"x-finfleet-shadow-of"
_MAX_ID = 64
SERVED_BY = frozenset({"production", "canary"})  # what a caller's header may claim
DEV_SALT = "finfleet-dev-salt"
# Requests per chunk handed to the writer process: taking them off the queue and joining their
# lines holds the GIL ~0.1 ms, well under the interpreter's 5 ms switch interval; the writer's
# commit (its main cost after the inserts) is shared by as many.
FLUSH_CHUNK = 2048
FEATURE_BURST_SECONDS = 60  # the token bucket holds at most this many seconds of features
# A flush spends at most this many seconds' worth (or one FEATURE_CALL): a busy service's
# first flush after a pause featured up to the whole bucket at once (6,000 credit records,
# ~200 ms of the GIL at 33 us each, in its requests' p99); now at most 500 (~16 ms).
FEATURE_FLUSH_SECONDS = 5
FEATURE_CALL = 32  # records a drift_features call (an encoder's batch: the GIL between)


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
                           ["service"], registry=registry, multiprocess_mode="livesum")
        self.outcomes = CachedLabels(Counter(
            "finfleet_outcomes", "Outcomes received, by result (stored, unknown)",
            ["service", "result"], registry=registry))
        for result in ("stored", "unknown"):
            self.outcomes.labels(service, result)
        self.quality = Gauge(
            "finfleet_live_quality", "Quality of a served version on its labelled predictions "
            "in the window (auc, average_precision, accuracy, span_f1, relative_error, ...)",
            ["model", "version", "metric"], registry=registry,
            multiprocess_mode="livemostrecent")  # every worker computes it from the one log
        self.labelled = Gauge("finfleet_live_labelled", "Labelled predictions in the window",
                              ["model", "version"], registry=registry,
                              multiprocess_mode="livemostrecent")


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
        self.writer = WriterProcess({
            "name": self.name, "url": settings.log_url, "directory": str(log_directory(settings)),
            "max_bytes": settings.log_max_bytes, "keep_files": settings.log_keep_files,
            "user_fields": list(model_cls.log_user_fields),
            "key_field": model_cls.log_key_field,
            "text_fields": list(model_cls.log_text_fields),
            "log_inputs": settings.log_inputs, "salt": self.salt.decode(),
            "nice": settings.log_writer_nice})
        # The served model of a version (set by the app once it has a ModelState): drift
        # features need the version's own encoder and fitted state.
        self.models: Callable[[str], ServedModel | None] = lambda version: None
        rate = settings.log_features_per_second
        self.features_rate = model_cls.drift_features_per_second if rate is None else rate
        self._tokens = self.features_rate * FEATURE_BURST_SECONDS
        self._tokens_at = time.monotonic()
        self._flush_budget = 0.0  # what the flush under way may still spend on features
        self.metrics = LogMetrics(self.name, registry)
        # One process: read at each scrape. Workers share files a function cannot live in, so
        # each sets its depth as its drain goes instead.
        self._depth_each_round = multiprocess_dir() is not None
        self._depth = self.metrics.queue.labels(self.name)
        if not self._depth_each_round:
            self._depth.set_function(lambda: len(self.queue))
        self.queue: deque[tuple[int, bytes]] = deque()  # (predictions, the record's line)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._flushing = threading.Lock()
        self._features_failed = False
        # Never in the features: what the log itself hashes or summarises.
        self._private = frozenset((*model_cls.log_user_fields,
                                   *(() if settings.log_inputs else model_cls.log_text_fields)))
        self._quality_due = 0.0
        self._quality_labels: set[tuple[str, ...]] = set()
        self.quality: dict[str, Any] = {"model": self.name, "computed_at": None, "versions": {},
                                        "shadowed": {}}
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
        ids: tuple[str, ...] = (base,) if n == 1 else tuple(f"{base}-{i}" for i in range(n))
        if len(self.queue) >= self.max_queue:  # no id for a record that is not kept: an
            self.metrics.records.labels(self.name, "dropped").inc(n)  # outcome could never join
            return [None] * n
        try:  # the record as the writer reads it (kit/predlog_writer.py, RECORD)
            line = _dumps((ids, time.time(), version, scope.get("state", {}).get("request_id"),
                           self.served_by(scope, shadow), instances, predictions, seconds,
                           shadow_of(scope, n) if shadow else None))
        except TypeError:  # not JSON (a model's bug the answer would meet too): never the log's
            self.metrics.records.labels(self.name, "failed").inc(n)
            return [None] * n
        self.queue.append((n, line))
        return ids

    # -- the background side ----------------------------------------------------------------

    def start(self) -> None:
        if self.rate > 0:
            try:
                self.writer.start()
            except OSError as exc:  # tried again by the first flush
                self.logger.warning("the log writer process did not start",
                                    extra={"error": str(exc)})
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-predlog",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then stop the writer process and close the store."""
        self._stop.set()
        if self._thread is not None:  # longer than a chunk's answer may take
            self._thread.join(timeout=ACK_TIMEOUT_SECONDS + 5)
        self.flush()
        left = sum(n for n, _ in self.queue)
        if left:  # the backend refused the last drain: what it could not take is lost, counted
            self.queue.clear()
            self.metrics.records.labels(self.name, "failed").inc(left)
        self.writer.close()
        self.store.close()

    def _run(self) -> None:
        """Until stopped; an unexpected error is logged and the next round goes on (a thread
        that died would leave every later record dropped)."""
        while not self._stop.wait(self.settings.log_flush_seconds):
            try:
                self.flush()
                if self._depth_each_round:
                    self._depth.set(len(self.queue))
                if self.settings.quality_seconds > 0 and time.monotonic() >= self._quality_due:
                    self._quality_due = time.monotonic() + self.settings.quality_seconds
                    self.update_quality()
            except Exception as exc:  # a bug of ours or a model's: never the end of the log
                self.logger.warning("prediction log round failed",
                                    extra={"error": f"{type(exc).__name__}: {exc}"})

    def flush(self) -> int:
        """Write every queued record now; the number of predictions written. One flush at a
        time (the thread's and a stop's), as the writer answers chunks in order."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> int:
        written = 0
        self._flush_budget = max(self.features_rate * FEATURE_FLUSH_SECONDS, FEATURE_CALL)
        while self.queue:
            time.sleep(0)  # hands the GIL to the event loop between chunks
            if self._depth_each_round:  # a long drain (a slow writer) keeps it current
                self._depth.set(len(self.queue))
            batch = [self.queue.popleft() for _ in range(min(len(self.queue), FLUSH_CHUNK))]
            lines = self.with_features(batch)
            try:
                done, failed, error = self.writer.write(lines)
            except WriterUnavailable as exc:
                done, failed, error = 0, sum(n for n, _ in batch), str(exc)
            if failed:  # down, refused, disk full: counted, the service serves on
                self.metrics.records.labels(self.name, "failed").inc(failed)
                if not self._failing:
                    self.logger.warning("prediction log write failed; records are dropped "
                                        "until it recovers", extra={"error": error})
                self._failing = True
                break  # one try a drain (an unreachable server costs a connect timeout)
            if self._failing:
                self.logger.warning("prediction log writes resumed")
                self._failing = False
            self.metrics.records.labels(self.name, "written").inc(done)
            written += done
        return written

    def with_features(self, batch: list[tuple[int, bytes]]) -> list[bytes]:
        """The batch's lines, drift features added to a random sample of its records, as many as
        the token bucket allows, each computed by the version that served it. Only the sampled
        lines are parsed here; the rest go to the writer as they are."""
        lines = [line for _, line in batch]
        now = time.monotonic()
        self._tokens = min(self.features_rate * FEATURE_BURST_SECONDS,
                           self._tokens + (now - self._tokens_at) * self.features_rate)
        self._tokens_at = now
        budget = min(self._tokens, self._flush_budget)
        if budget < 1:
            return lines
        # each record costs at least a token: no more candidates than tokens
        picked = random.sample(range(len(batch)), min(len(batch), int(budget)))
        by_version: dict[str, list[tuple[int, list]]] = {}
        for index in picked:
            size = batch[index][0]
            if size > budget:
                continue
            budget -= size
            self._tokens -= size
            self._flush_budget -= size
            record = orjson.loads(lines[index])
            by_version.setdefault(record[2], []).append((index, record))
        for version, records in by_version.items():
            model = self.models(version)
            if model is None:
                continue
            for (index, record), features in zip(
                    records, self.features_of(model, [r for _, r in records]), strict=True):
                if features is None:
                    continue
                try:  # features follow the record's fields (RECORD)
                    lines[index] = _dumps((*record, features))
                except TypeError as exc:  # a model's features that are not JSON: left out
                    self._features_failed_once(exc)
        return lines

    def features_of(self, model: ServedModel, records: list[list]) -> list[list | None]:
        """Each record's features, a dict per instance, without user ids or raw text, in model
        calls of FEATURE_CALL instances (the GIL handed back between); None each where the model
        fails (logged once; the records are still written)."""
        out: list[list | None] = []
        for start in range(0, len(records), FEATURE_CALL):
            time.sleep(0)
            out += self._features_of(model, records[start:start + FEATURE_CALL])
        return out

    def _features_of(self, model: ServedModel, records: list[list]) -> list[list | None]:
        try:
            instances = [i for record in records for i in record[5]]
            predictions = [p for record in records for p in record[6]]
            rows = [{k: v for k, v in r.items() if k not in self._private}
                    for r in model.drift_features(instances, predictions)]
            if len(rows) != len(instances):
                raise ValueError(f"{len(rows)} feature rows for {len(instances)} instances")
        except Exception as exc:  # a model's bug: never the log's or the caller's
            self._features_failed_once(exc)
            return [None] * len(records)
        each = iter(rows)
        return [[next(each) for _ in record[5]] for record in records]

    def _features_failed_once(self, exc: Exception) -> None:
        if not self._features_failed:
            self.logger.warning("drift features failed; records are logged without them",
                                extra={"error": f"{type(exc).__name__}: {exc}"})
        self._features_failed = True

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

    # -- live quality -------------------------------------------------------------------------

    def update_quality(self) -> None:
        """`finfleet_live_quality` per version over the labelled window (stale series go), and
        `self.quality`, what `GET /v1/models/<name>/quality` answers."""
        since = time.time() - self.settings.quality_window_seconds
        try:
            labelled = self.store.labelled(self.name, since)
            shadows = self.store.labelled_shadows(self.name, since)
        except Exception as exc:  # unreachable or refused: reported, tried again later
            self.logger.warning("live quality not computed", extra={"error": str(exc)})
            return
        by_version: dict[str, list[tuple[Any, Any]]] = {}
        served: dict[str, collections.Counter] = {}
        for row in (*(r for r in labelled if r["served_by"] != "shadow"), *shadows):
            by_version.setdefault(row["version"], []).append((row["output"], row["label"]))
            served.setdefault(row["version"], collections.Counter())[row["served_by"]] += 1
        fresh: set[tuple[str, ...]] = set()
        versions: dict[str, Any] = {}
        for version, pairs in by_version.items():
            self.metrics.labelled.labels(self.name, version).set(len(pairs))
            fresh.add((self.name, version))
            found = self.model_cls.live_quality(pairs)
            versions[version] = {"labelled": len(pairs), "served_by": dict(served[version]),
                                 "metrics": found}
            for metric, value in found.items():
                self.metrics.quality.labels(self.name, version, metric).set(value)
                fresh.add((self.name, version, metric))
        for stale in self._quality_labels - fresh:
            gauge = self.metrics.quality if len(stale) == 3 else self.metrics.labelled
            retire(gauge, stale, math.nan if len(stale) == 3 else 0)
        self._quality_labels = fresh
        self.quality = {"model": self.name, "window_seconds": self.settings.quality_window_seconds,
                        "computed_at": round(time.time(), 3), "versions": versions,
                        "shadowed": self.shadowed(labelled, shadows)}

    def shadowed(self, labelled: list[dict[str, Any]], shadows: list[dict[str, Any]]
                 ) -> dict[str, Any]:
        """Both versions on the same labelled requests, the ones the candidate shadowed: the
        comparison that does not mix two populations."""
        by_id = {r["prediction_id"]: r for r in labelled}
        out: dict[str, Any] = {}
        for candidate, rows in _grouped(shadows, "version").items():
            pairs = [(by_id[r["production_id"]], r) for r in rows if r["production_id"] in by_id]
            production = [(p["output"], p["label"]) for p, _ in pairs]
            shadow = [(s["output"], s["label"]) for _, s in pairs]
            out[candidate] = {"requests": len(pairs),
                              "production": self.model_cls.live_quality(production),
                              "candidate": self.model_cls.live_quality(shadow)}
        return out


def shadow_of(scope: dict, n: int) -> tuple[str | None, ...] | None:
    """Production's prediction id for each of a shadow copy's `n` instances (SHADOW_OF_HEADER;
    an empty entry: that instance had none). None where the header is absent, of another
    length or holds an id that is not one (too long, or not printable): the copy is then
    logged unpaired rather than paired with the wrong prediction."""
    for key, value in scope.get("headers", ()):
        if key == SHADOW_OF_HEADER:
            ids = value.decode("latin-1").split(",")
            if len(ids) != n or any(len(i) > _MAX_ID or not i.isprintable() for i in ids):
                return None
            return tuple(i.strip() or None for i in ids)
    return None


def _grouped(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return out


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
