"""How a candidate version's answers compare with production's, per model, for people to read.

The gateway never imports model code, so what to compare is declared per model in
`services.toml` (`[service.compare]`, kit.catalog.CompareRow) and computed on the JSON
predictions. Only shadow traffic gives pairs (the same request answered by both versions); a
canary request is answered by one version, so canary traffic only records latency per version.

Kinds of measure, each on the value at a dotted `path` of one prediction:
  agree     candidate == production                      (summary: agreement rate)
  shift     candidate − production, numbers              (summary: mean and mean absolute)
  relative  |c − p| / max(|p|, EPS), numbers             (summary: mean)
  spans_f1  a list of objects, compared as sets of the   (summary: mean F1 of the candidate's
            `keys` tuples (NER: start, end, label)        spans against production's)
A value missing or of the wrong type is "incomparable": counted, never raised.

Statistics are kept over a bounded window (the last `window` comparisons) and all-time; the
same values go to Prometheus on the gateway's registry:
  finfleet_shadow_comparisons_total{model,measure,outcome}  outcome: agree | disagree (agree
      and spans_f1; spans agree when the sets are equal) | compared (shift, relative) |
      incomparable
  finfleet_shadow_difference{model,measure}  histogram of |shift|, relative difference or
      1 − F1 (not agree: its counter says it all); 0 is identical answers for every kind
  finfleet_traffic_latency_seconds{model,role,source}  role production | candidate, source
      shadow | canary
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from kit.catalog import Catalog, CompareRow, value_at
from kit.metrics import LATENCY_BUCKETS, CachedLabels

ROLES = ("production", "candidate")
SOURCES = ("shadow", "canary")
EPS = 1e-9
DIFFERENCE_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class _Incomparable(Exception):
    """A prediction without the declared value, or with one of the wrong type."""


def _value(prediction: Any, path: str) -> Any:
    try:
        return value_at(prediction, path)
    except ValueError as exc:
        raise _Incomparable from exc


def _number(prediction: Any, path: str) -> float:
    value = _value(prediction, path)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Incomparable
    return float(value)


def _spans(prediction: Any, measure: CompareRow) -> set[tuple]:
    items = _value(prediction, measure.path)
    if not isinstance(items, list):
        raise _Incomparable
    try:
        return {tuple(item[key] for key in measure.keys) for item in items}
    except (KeyError, IndexError, TypeError) as exc:  # not objects, a key missing, unhashable
        raise _Incomparable from exc


def compare_one(measure: CompareRow, production: Any, candidate: Any) -> float | None:
    """The measure's value for one pair of predictions, None when they cannot be compared:
    1.0/0.0 (agree), c − p (shift), the relative difference, or the F1 (spans_f1)."""
    try:
        if measure.kind == "agree":
            return float(_value(candidate, measure.path) == _value(production, measure.path))
        if measure.kind == "spans_f1":
            p, c = _spans(production, measure), _spans(candidate, measure)
            return 1.0 if not p and not c else 2 * len(p & c) / (len(p) + len(c))
        p, c = _number(production, measure.path), _number(candidate, measure.path)
        if measure.kind == "shift":
            return c - p
        return abs(c - p) / max(abs(p), EPS)
    except _Incomparable:
        return None


def _difference(kind: str, value: float) -> float:
    """The histogram's value: how far apart, 0 for identical answers whatever the kind."""
    return {"spans_f1": 1 - value, "shift": abs(value)}.get(kind, value)


def _outcome(kind: str, value: float | None) -> str:
    if value is None:
        return "incomparable"
    if kind in ("agree", "spans_f1"):
        return "agree" if value == 1.0 else "disagree"
    return "compared"


@dataclass
class _Stats:
    """One measure's values: the last `window` (None = incomparable) and all-time sums."""

    window: deque
    count: int = 0
    incomparable: int = 0
    total: float = 0.0
    total_abs: float = 0.0

    def add(self, value: float | None) -> None:
        self.window.append(value)
        if value is None:
            self.incomparable += 1
        else:
            self.count += 1
            self.total += value
            self.total_abs += abs(value)


@dataclass
class _Model:
    measures: dict[str, tuple[CompareRow, _Stats]]
    latency: dict[tuple[str, str], deque] = field(default_factory=dict)
    pairs: int = 0


def _reading(kind: str, n: int, total: float, total_abs: float) -> dict[str, float | None]:
    mean = total / n if n else None
    if kind == "agree":
        return {"agreement": mean}
    if kind == "shift":
        return {"mean_shift": mean, "mean_abs_shift": total_abs / n if n else None}
    if kind == "relative":
        return {"mean_relative": mean}
    return {"mean_f1": mean}


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: a latency some request really had."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Comparisons:
    """Per model, the running comparison of candidate and production answers and latencies.

    `measures` maps each model to its declared measures (`Comparisons.from_catalog` takes them
    from services.toml); a model without any still has its latencies recorded."""

    def __init__(self, measures: Mapping[str, Mapping[str, CompareRow]],
                 registry: CollectorRegistry | None = None, window: int = 1000) -> None:
        self.window = window
        self._declared = {model: dict(rows) for model, rows in measures.items()}
        self._models: dict[str, _Model] = {}
        registry = registry or CollectorRegistry()
        self.comparisons = CachedLabels(Counter(
            "finfleet_shadow_comparisons", "Shadow answer pairs compared, per declared measure "
            "and outcome (agree, disagree, compared, incomparable)",
            ["model", "measure", "outcome"], registry=registry,
        ))
        self.difference = CachedLabels(Histogram(
            "finfleet_shadow_difference", "How far the candidate's answer is from production's "
            "per measure (|shift|, relative difference, 1 − F1): 0 is identical answers",
            ["model", "measure"], buckets=DIFFERENCE_BUCKETS, registry=registry,
        ))
        self.latency = CachedLabels(Histogram(
            "finfleet_traffic_latency_seconds", "Upstream answer time per version role "
            "(production, candidate) and traffic source (shadow, canary)",
            ["model", "role", "source"], buckets=LATENCY_BUCKETS, registry=registry,
        ))

    @classmethod
    def from_catalog(cls, catalog: Catalog, registry: CollectorRegistry | None = None,
                     window: int = 1000) -> Comparisons:
        return cls({row.name: row.compare for row in catalog.services}, registry, window)

    def _fresh(self, model: str) -> _Model:
        rows = self._declared.get(model, {})
        return _Model({name: (row, _Stats(deque(maxlen=self.window)))
                       for name, row in rows.items()})

    def _model(self, model: str) -> _Model:
        state = self._models.get(model)
        if state is None:
            state = self._models[model] = self._fresh(model)
        return state

    def record(self, model: str, production_predictions: list, candidate_predictions: list,
               production_seconds: float | None, candidate_seconds: float | None,
               source: str) -> list[dict[str, float | None]]:
        """One request answered by both sides: latencies (None skips a side) and, for shadow
        only, each prediction paired with its production twin; returns each pair's values
        (`record_pair`). Canary answers come from different requests, so they are not paired.
        Uneven or non-list answers count the unpaired predictions incomparable."""
        if production_seconds is not None:
            self.record_latency(model, "production", production_seconds, source)
        if candidate_seconds is not None:
            self.record_latency(model, "candidate", candidate_seconds, source)
        if source != "shadow":
            return []
        production = production_predictions if isinstance(production_predictions, list) else [None]
        candidate = candidate_predictions if isinstance(candidate_predictions, list) else [None]
        return [self.record_pair(model, p, c) for p, c in zip_longest(production, candidate)]

    def record_latency(self, model: str, role: str, seconds: float, source: str) -> None:
        """One version's answer time; `role` production|candidate, `source` shadow|canary."""
        if role not in ROLES or source not in SOURCES:
            raise ValueError(f"role must be one of {ROLES} and source one of {SOURCES}")
        state = self._model(model)
        state.latency.setdefault((role, source), deque(maxlen=self.window)).append(seconds)
        self.latency.labels(model, role, source).observe(seconds)

    def record_pair(self, model: str, production: Any, candidate: Any) -> dict[str, float | None]:
        """One prediction of each version for the same instance, compared on every declared
        measure; returns measure → value (None: incomparable). Never raises on the inputs."""
        state = self._model(model)
        values = {name: compare_one(row, production, candidate)
                  for name, (row, _) in state.measures.items()}
        self._count(model, state, values)
        return values

    def recount(self, model: str, pairs: list[dict[str, float | None]]) -> None:
        """Pairs compared before, met again: the same instances answered by the same two
        versions (production from the cache), so their values are what `record_pair` returned
        then, counted again as traffic repeats them."""
        state = self._model(model)
        for values in pairs:
            self._count(model, state, values)

    def _count(self, model: str, state: _Model, values: dict[str, float | None]) -> None:
        state.pairs += 1
        for name, (row, stats) in state.measures.items():
            value = values.get(name)
            stats.add(value)
            self.comparisons.labels(model, name, _outcome(row.kind, value)).inc()
            if value is not None:
                self.difference.labels(model, name).observe(_difference(row.kind, value))

    def summary(self, model: str) -> dict[str, Any]:
        """For `GET /v1/models/<name>/traffic` and the CLI (see `render`): per measure its
        count, incomparable count and reading (agreement | mean_shift, mean_abs_shift |
        mean_relative | mean_f1; None before any) over the window and all-time, and latency
        p50/p99 per role and source over the window. A model with no traffic reads empty."""
        state = self._models.get(model) or self._fresh(model)
        measures = {}
        for name, (row, stats) in state.measures.items():
            seen = [v for v in stats.window if v is not None]
            measures[name] = {
                "kind": row.kind, "path": row.path,
                "window": {"count": len(seen), "incomparable": len(stats.window) - len(seen),
                           **_reading(row.kind, len(seen), sum(seen),
                                      sum(abs(v) for v in seen))},
                "all_time": {"count": stats.count, "incomparable": stats.incomparable,
                             **_reading(row.kind, stats.count, stats.total, stats.total_abs)},
            }
        latency: dict[str, dict[str, Any]] = {}
        order = sorted(state.latency, key=lambda k: (ROLES.index(k[0]), SOURCES.index(k[1])))
        for role, source in order:
            seconds = state.latency[role, source]
            ordered = sorted(seconds)
            latency.setdefault(role, {})[source] = {
                "count": len(ordered), "p50": _percentile(ordered, 0.5),
                "p99": _percentile(ordered, 0.99)}
        return {"model": model, "window": self.window,
                "pairs": {"window": min(state.pairs, self.window), "all_time": state.pairs},
                "measures": measures, "latency": latency}


class RememberedPairs:
    """Recent shadow pairs' values by (candidate version, production's cache key), a bounded LRU.

    A cached model's answer is fixed by its version and the instance (that is what makes the
    cache right), so an instance production answers from the cache gets from the same candidate
    version the answer it got before: the repeat is counted from here instead of being sent
    again, which is most of a cache hit's shadow cost (docs/releases.md)."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._values: OrderedDict[tuple[str, str], dict[str, float | None]] = OrderedDict()

    def get(self, candidate: str, keys: list[str]) -> list[dict[str, float | None]] | None:
        """Every key's values, or None when any of them is not remembered."""
        found = []
        for key in keys:
            values = self._values.get((candidate, key))
            if values is None:
                return None
            self._values.move_to_end((candidate, key))
            found.append(values)
        return found

    def put(self, candidate: str, keys: list[str],
            pairs: list[dict[str, float | None]]) -> None:
        for key, values in zip(keys, pairs, strict=True):
            self._values[candidate, key] = values
            self._values.move_to_end((candidate, key))
        while len(self._values) > self.max_entries:
            self._values.popitem(last=False)


def _figure(kind: str, reading: dict[str, Any]) -> str:
    if reading["count"] == 0:
        return "-"
    if kind == "agree":
        text = f"{100 * reading['agreement']:.1f}% agree"
    elif kind == "shift":
        text = f"{reading['mean_shift']:+.4f} (|{reading['mean_abs_shift']:.4f}|)"
    elif kind == "relative":
        text = f"{100 * reading['mean_relative']:.2f}% apart"
    else:
        text = f"F1 {reading['mean_f1']:.3f}"
    return f"{text}, n={reading['count']}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *rows]]


def render(summary: dict[str, Any]) -> str:
    """A `summary` as plain-text tables: measures (window and all-time), then latency."""
    pairs = summary["pairs"]
    lines = [f"{summary['model']}: {pairs['window']} shadow pairs in the window (last "
             f"{summary['window']}), {pairs['all_time']} all-time", ""]
    rows = [[name, m["kind"], m["path"], _figure(m["kind"], m["window"]),
             _figure(m["kind"], m["all_time"]),
             f"{m['window']['incomparable']} / {m['all_time']['incomparable']}"]
            for name, m in summary["measures"].items()]
    if rows:
        lines += _table(["measure", "kind", "path", "window", "all-time",
                         "incomparable (window / all-time)"], rows)
    else:
        lines.append("no measures declared in services.toml ([service.compare])")
    latency = [[role, source, str(r["count"]), f"{1000 * r['p50']:.1f} ms",
                f"{1000 * r['p99']:.1f} ms"]
               for role, by_source in summary["latency"].items()
               for source, r in by_source.items()]
    lines.append("")
    if latency:
        lines += _table(["latency", "source", "n", "p50", "p99"], latency)
    else:
        lines.append("no latency recorded yet")
    return "\n".join(lines)
