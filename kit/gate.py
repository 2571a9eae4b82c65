"""The promotion gate: score a candidate and the current production on the same rows, judge each
declared criterion with a paired bootstrap, and say what passed, what failed and why.

    result = evaluate_release("credit", candidate, production)
    result.passed            # every criterion passed
    print(result.table())    # what a person reads in a terminal
    result.to_dict()         # what the registry's history records

What is the model's own lives next to the model, in `services/<name>/promotion.py` (`GATE`, a
`GateSpec`): the criteria (metric, direction, tolerance, optional floor or ceiling), the metrics
as functions of per-row outcomes, the evaluation sets (the candidate's holdout, the golden set
kept in the repository, perturbations of both for the text models) and how one model's
predictions become per-row outcomes. Both versions are loaded through the service's own
`ServedModel` and settings classes, so the gate scores through the code that serves.

The rule (docs/gate.md). For each criterion and evaluation set, the same B resamples of the rows
(seeded; stratified by label where the set says so) give B values of the metric for each model
and so B paired differences. Let Δ be the improvement (candidate − production, sign-flipped for
lower-is-better metrics) on the set itself and [lo, hi] its percentile interval (95%):

- Δ < −tolerance and hi < 0: FAIL. The worsening is material (beyond what the criterion
  allows) and real (every plausible value is a worsening).
- otherwise pass: better (lo > 0), worse but within tolerance (hi < 0), within tolerance
  (lo ≥ −tolerance), or inconclusive (the interval includes no change: a worsening that noise
  could explain never refuses, and the table says that more rows would decide).

A floor (ceiling) is an absolute bound on the candidate's own value: it fails when the
candidate's whole interval lies below the floor (above the ceiling) and production's value does
not; a production that is itself past the bound is not a reason to refuse a candidate no worse
than it (the relative rule still applies), and the row says both are past it. With no production
(a first release) only bounds are judged; criteria without one pass with a note.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import inspect
import json
import math
import random
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kit.artifacts import Artifact
from kit.errors import InvalidInput
from kit.model import ServedModel

Outcomes = Mapping[str, np.ndarray]
Direction = Literal["higher", "lower"]

HOLDOUT_FILE = "holdout.jsonl"
HOLDOUT_MANIFEST_KEY = "holdout_file"
MAX_HOLDOUT_ROWS = 2_000


# --- metrics that a resample can recompute ---------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A metric as a function of per-row outcomes and row weights.

    `compute(weights, outcomes)` takes a (B, n) matrix of row weights (bootstrap counts; a row
    of ones is the set itself) and returns B values; NaN where the metric is undefined on a
    resample (no positives, no out-of-scope rows). `fields` are the outcome columns it reads: a
    set whose outcomes lack one is not judged on it."""

    fields: tuple[str, ...]
    compute: Callable[[np.ndarray, Outcomes], np.ndarray]

    def value(self, outcomes: Outcomes) -> float:
        n = len(outcomes[self.fields[0]])
        return float(self.compute(np.ones((1, n)), outcomes)[0])


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _column(outcomes: Outcomes, name: str) -> np.ndarray:
    return np.asarray(outcomes[name], dtype=np.float64)


def mean(column: str) -> Metric:
    """The weighted mean of a per-row value: accuracy (0/1 correct), Brier (squared errors),
    sMAPE (one term per series)."""
    return Metric((column,), lambda w, o: _divide(w @ _column(o, column), w.sum(axis=1)))


def mean_where(column: str, where: str) -> Metric:
    """The mean of `column` over the rows where `where` is true: out-of-scope recall is the
    mean of "flagged out of scope" over the rows that are out of scope."""
    def compute(w: np.ndarray, o: Outcomes) -> np.ndarray:
        mask = _column(o, where)
        return _divide(w @ (_column(o, column) * mask), w @ mask)

    return Metric((column, where), compute)


def micro_f1(tp: str = "tp", fp: str = "fp", fn: str = "fn") -> Metric:
    """Micro F1 from per-row true positive, false positive and false negative counts."""
    def compute(w: np.ndarray, o: Outcomes) -> np.ndarray:
        t = w @ _column(o, tp)
        return _divide(2 * t, 2 * t + w @ _column(o, fp) + w @ _column(o, fn))

    return Metric((tp, fp, fn), compute)


def _score_groups(w: np.ndarray, o: Outcomes, score: str, label: str):
    """Positive and negative weight per distinct score, in ascending score order."""
    s = _column(o, score)
    y = _column(o, label) > 0
    order = np.argsort(s, kind="mergesort")
    ordered = s[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ws = w[:, order]
    pos = np.add.reduceat(ws * y[order], starts, axis=1)
    neg = np.add.reduceat(ws * ~y[order], starts, axis=1)
    return pos, neg


def auc(score: str, label: str) -> Metric:
    """ROC AUC (ties count a half), the weighted Mann–Whitney statistic; as roc_auc_score."""
    def compute(w: np.ndarray, o: Outcomes) -> np.ndarray:
        pos, neg = _score_groups(w, o, score, label)
        below = np.cumsum(neg, axis=1) - neg
        return _divide((pos * (below + 0.5 * neg)).sum(axis=1), pos.sum(axis=1) * neg.sum(axis=1))

    return Metric((score, label), compute)


def average_precision(score: str, label: str) -> Metric:
    """Average precision, Σ (recall step) × precision over the distinct scores from the top;
    as average_precision_score."""
    def compute(w: np.ndarray, o: Outcomes) -> np.ndarray:
        pos, neg = _score_groups(w, o, score, label)
        pos, neg = pos[:, ::-1], neg[:, ::-1]
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        precision = _divide(tp, tp + fp)
        return _divide(np.nansum(pos * precision, axis=1), pos.sum(axis=1))

    return Metric((score, label), compute)


def rate_ratio(flag: str, group: str, min_count: int = 10) -> Metric:
    """The lowest group rate of `flag` over the highest (the "four-fifths" approval-rate ratio),
    among groups with at least `min_count` rows in the resample."""
    def compute(w: np.ndarray, o: Outcomes) -> np.ndarray:
        groups, flags = np.asarray(o[group]), _column(o, flag)
        counts, rates = [], []
        for g in np.unique(groups):
            member = (groups == g).astype(np.float64)
            n = w @ member
            counts.append(n)
            rates.append(_divide(w @ (flags * member), n))
        rate = np.where(np.stack(counts, axis=1) >= min_count, np.stack(rates, axis=1), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _divide(np.nanmin(rate, axis=1), np.nanmax(rate, axis=1))

    return Metric((flag, group), compute)


# --- the paired bootstrap -------------------------------------------------------------------
@dataclass(frozen=True)
class Bootstrap:
    """Resamples, the interval's confidence and the seed. `max_cells` bounds one chunk's
    weight matrix (resamples × rows), so memory stays flat on large sets."""

    resamples: int = 1_000
    confidence: float = 0.95
    seed: int = 20261201
    max_cells: int = 2_000_000


def resample_counts(n: int, resamples: int, rng: np.random.Generator,
                    strata: np.ndarray | None = None) -> np.ndarray:
    """(resamples, n) bootstrap counts: each row of the matrix says how often each evaluation
    row was drawn. With `strata`, rows are drawn within each stratum, so every resample keeps
    the set's count of each label (a resample with no fraud has no average precision)."""
    if strata is None:
        draws = rng.integers(0, n, size=(resamples, n))
    else:
        parts = []
        for value in np.unique(strata):
            members = np.flatnonzero(strata == value)
            parts.append(members[rng.integers(0, len(members), size=(resamples, len(members)))])
        draws = np.concatenate(parts, axis=1)
    offsets = (np.arange(resamples) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=resamples * n).reshape(
        resamples, n).astype(np.float64)


@dataclass(frozen=True)
class Paired:
    """One metric on one set: both values, their bootstrap distributions' intervals, and the
    interval of the paired difference (candidate − production)."""

    candidate: float
    production: float | None
    candidate_low: float
    candidate_high: float
    difference_low: float | None
    difference_high: float | None
    undefined: int  # resamples where the metric (or the difference) was undefined


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float, int]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return math.nan, math.nan, len(values)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high), int(len(values) - len(finite))


def stable_seed(*parts: object) -> int:
    """A seed from names (sets, metrics): the same on every run and machine."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "big")


def paired_bootstrap(metrics: Mapping[str, Metric], candidate: Outcomes,
                     production: Outcomes | None, *, n: int, strata: np.ndarray | None = None,
                     settings: Bootstrap = Bootstrap(), key: str = "") -> dict[str, Paired]:
    """Every metric for both models on the same resamples of the same n rows."""
    rng = np.random.default_rng([settings.seed, stable_seed(key)])
    chunk = max(1, min(settings.resamples, settings.max_cells // max(n, 1)))
    cand = {name: [] for name in metrics}
    prod = {name: [] for name in metrics}
    done = 0
    while done < settings.resamples:
        size = min(chunk, settings.resamples - done)
        weights = resample_counts(n, size, rng, strata)
        for name, metric in metrics.items():
            cand[name].append(metric.compute(weights, candidate))
            if production is not None:
                prod[name].append(metric.compute(weights, production))
        done += size
    out = {}
    for name, metric in metrics.items():
        c = np.concatenate(cand[name])
        c_low, c_high, undefined = _interval(c, settings.confidence)
        p_value = d_low = d_high = None
        if production is not None:
            p_value = metric.value(production)
            d_low, d_high, undefined = _interval(c - np.concatenate(prod[name]),
                                                 settings.confidence)
        out[name] = Paired(metric.value(candidate), p_value, c_low, c_high, d_low, d_high,
                           undefined)
    return out


# --- criteria and their verdicts ----------------------------------------------------------
@dataclass(frozen=True)
class Criterion:
    """One thing a candidate must not get worse at.

    `tolerance`: the largest worsening allowed against production, in the metric's units.
    `floor` (higher is better) / `ceiling` (lower is better): an absolute bound on the
    candidate. `sets`: the evaluation sets it is judged on (empty: every set whose outcomes
    have the metric's columns)."""

    metric: str
    direction: Direction
    tolerance: float
    title: str = ""
    floor: float | None = None
    ceiling: float | None = None
    sets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"direction must be 'higher' or 'lower', not {self.direction!r}")
        if self.tolerance < 0:
            raise ValueError("tolerance is the worsening allowed: it cannot be negative")

    @property
    def label(self) -> str:
        return f"{self.title or self.metric} {'↑' if self.direction == 'higher' else '↓'}"

    @property
    def sign(self) -> int:
        return 1 if self.direction == "higher" else -1

    def improvement(self, difference: float) -> float:
        return self.sign * difference

    def bound(self) -> float | None:
        return self.floor if self.direction == "higher" else self.ceiling

    def past_bound(self, value: float) -> bool:
        bound = self.bound()
        return bound is not None and self.sign * (value - bound) < 0


@dataclass(frozen=True)
class Judged:
    """One row of the gate's table: a criterion on one evaluation set."""

    metric: str
    title: str
    set: str
    direction: Direction
    tolerance: float
    bound: float | None
    candidate: float | None
    production: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    candidate_ci_low: float | None
    candidate_ci_high: float | None
    verdict: Literal["pass", "fail", "skip"]
    outcome: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in asdict(self).items()}


def judge(criterion: Criterion, set_name: str, paired: Paired, has_production: bool) -> Judged:
    """The verdict of one criterion on one set (the rule is in the module docstring)."""
    tol, c = criterion.tolerance, paired.candidate
    base = {"metric": criterion.metric, "title": criterion.label, "set": set_name,
            "direction": criterion.direction, "tolerance": tol, "bound": criterion.bound(),
            "candidate": c, "production": paired.production,
            "candidate_ci_low": paired.candidate_low, "candidate_ci_high": paired.candidate_high}
    if not math.isfinite(c):
        return Judged(**base, difference=None, ci_low=None, ci_high=None, verdict="skip",
                      outcome="undefined", why="the metric is undefined on this set")
    difference = low = high = None
    failures, notes, outcome = [], [], ""
    if has_production and paired.production is not None and math.isfinite(paired.production):
        difference, low, high = c - paired.production, paired.difference_low, \
            paired.difference_high
        gain = criterion.improvement(difference)
        gains = sorted((criterion.improvement(low), criterion.improvement(high)))
        if not all(math.isfinite(g) for g in gains):
            outcome = "inconclusive"
            notes.append("no resample defined the difference")
        elif gain < -tol and gains[1] < 0:
            outcome = "worse"
            failures.append(f"worse by {abs(difference):.4g}, beyond the tolerance {tol:g}, and "
                            f"the whole interval {_ci(low, high)} is a worsening")
        elif gains[0] > 0:
            outcome = "better"
        elif gains[1] < 0:
            outcome = "worse, within tolerance"
        elif gains[0] >= -tol:
            outcome = "within tolerance"
        elif gain < -tol:
            outcome = "inconclusive"
            notes.append(f"worse by {abs(difference):.4g} on these rows, beyond the tolerance "
                         f"{tol:g}, but the interval {_ci(low, high)} includes no change: not "
                         "a refusal (more rows would decide)")
        else:
            outcome = "uncertain"
    elif has_production:
        outcome = "inconclusive"
        notes.append("production's value is undefined on this set")
    else:
        outcome = "first release"
    bound = criterion.bound()
    if bound is not None:
        word = "floor" if criterion.direction == "higher" else "ceiling"
        surely_past = criterion.past_bound(
            paired.candidate_high if criterion.direction == "higher" else paired.candidate_low)
        prod_past = paired.production is not None and criterion.past_bound(paired.production)
        if surely_past and not prod_past:
            outcome = "worse, past the floor" if failures else f"past the {word}"
            failures.append(f"{c:.4g} (interval [{_plain(paired.candidate_low)}, "
                            f"{_plain(paired.candidate_high)}]) is wholly past the {word} "
                            f"{bound:g}")
        elif criterion.past_bound(c):
            notes.append(f"past the {word} {bound:g}" + (
                f", as production is ({paired.production:.4g})" if prod_past else
                " by its value, not by its whole interval"))
    if not has_production and bound is None:
        notes.append("no production to compare with")
    verdict = "fail" if failures else "pass"
    return Judged(**base, difference=difference, ci_low=low, ci_high=high, verdict=verdict,
                  outcome=outcome, why="; ".join(failures + notes))


def _ci(low: float | None, high: float | None) -> str:
    return f"[{_signed(low)}, {_signed(high)}]"


def _signed(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:+.4f}"


def _plain(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.4f}"


# --- what a service declares --------------------------------------------------------------
@dataclass
class EvaluationSet:
    """Rows both models are scored on. `rows` are whatever the service's `outcomes` reads;
    `strata` (one value per outcome row, e.g. the label) makes the bootstrap draw within each
    value."""

    name: str
    rows: list[Any]
    source: str
    strata: Sequence[Any] | None = None
    size: int | None = None  # rows judged, when fewer than `rows` (a stream's last days)

    def describe(self) -> dict[str, Any]:
        out = {"name": self.name, "rows": len(self.rows) if self.size is None else self.size,
               "source": self.source, "stratified": self.strata is not None}
        if self.size is not None:
            out["stream_rows"] = len(self.rows)
        return out


@dataclass(frozen=True)
class GateSpec:
    """A model's gate: what it must not get worse at, on which rows, and how a model's
    predictions on a set become per-row outcomes (a dict of equal-length arrays).

    `evaluation_sets(candidate)` → (sets, notes): the sets and anything a person should know
    about them (an old artifact without a holdout, a golden set that does not fit the
    candidate's schema)."""

    criteria: tuple[Criterion, ...]
    metrics: Mapping[str, Metric]
    evaluation_sets: Callable[[Artifact], tuple[list[EvaluationSet], list[str]]]
    outcomes: Callable[[ServedModel, EvaluationSet], dict[str, np.ndarray]]

    def __post_init__(self) -> None:
        unknown = {c.metric for c in self.criteria} - set(self.metrics)
        if unknown:
            raise ValueError(f"criteria name metrics that are not declared: {sorted(unknown)}")


# --- the result --------------------------------------------------------------------------
@dataclass
class GateResult:
    name: str
    candidate: str
    production: str | None
    rows: list[Judged]
    sets: list[dict[str, Any]]
    notes: list[str]
    seconds: float
    bootstrap: Bootstrap

    @property
    def passed(self) -> bool:
        return not self.failures and any(r.verdict != "skip" for r in self.rows)

    @property
    def failures(self) -> list[Judged]:
        return [r for r in self.rows if r.verdict == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "candidate": self.candidate, "production": self.production,
            "passed": self.passed, "failed": [f"{r.set} {r.title}" for r in self.failures],
            "criteria": [r.to_dict() for r in self.rows], "sets": self.sets,
            "notes": list(self.notes), "seconds": round(self.seconds, 2),
            "bootstrap": {**asdict(self.bootstrap), "interval": "percentile",
                          "paired": True, "rule": "fail when the improvement is below -tolerance "
                          "and its whole interval below 0; a floor fails when the "
                          "candidate's interval is wholly past it and production is not"},
        }

    def table(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"{self.name}: candidate {self.candidate} vs production "
                 f"{self.production or '— (first release)'}: {verdict}"
                 + (f" ({len(self.failures)} of {len(self.rows)} criteria failed)"
                    if self.failures else ""),
                 f"paired bootstrap: {self.bootstrap.resamples} resamples of the same rows, "
                 f"{self.bootstrap.confidence:.0%} percentile intervals, seed "
                 f"{self.bootstrap.seed}; {self.seconds:.1f} s",
                 "sets: " + "; ".join(f"{s['name']} {s['rows']} rows ({s['source']})"
                                      for s in self.sets)]
        header = ("set", "criterion", "candidate", "production", "difference",
                  f"{self.bootstrap.confidence:.0%} CI of difference", "tolerance", "verdict")
        body = [(r.set, r.title, _plain(r.candidate), _plain(r.production),
                 _signed(r.difference), _ci(r.ci_low, r.ci_high) if r.ci_low is not None
                 else "—", _tolerance(r), _verdict(r)) for r in self.rows]
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
        lines += ["", *("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths,
                                                                         strict=True)).rstrip()
                        for row in [header, tuple("-" * w for w in widths), *body])]
        if self.failures:
            lines += ["", "failed:"] + [f"  - {r.set} {r.title}: {r.why}" for r in self.failures]
        notes = [f"{r.set} {r.title}: {r.why}" for r in self.rows
                 if r.verdict != "fail" and r.why]
        if notes or self.notes:
            lines += ["", "notes:"] + [f"  - {n}" for n in [*self.notes, *notes]]
        return "\n".join(lines)


def _tolerance(row: Judged) -> str:
    text = f"{row.tolerance:g}"
    if row.bound is not None:
        text += f", {'≥' if row.direction == 'higher' else '≤'} {row.bound:g}"
    return text


def _verdict(row: Judged) -> str:
    if row.verdict == "fail":
        return f"FAIL ({row.outcome})"
    return f"{row.verdict} ({row.outcome})" if row.outcome else row.verdict


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


# --- loading a model as its service serves it ------------------------------------------------
def _defined_in(module: Any, base: type) -> list[type]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, base) and obj is not base and obj.__module__ == module.__name__]


def served_model(name: str, artifact: Artifact) -> ServedModel:
    """The artifact loaded by its service's ServedModel, built with the service's settings
    class (env prefix and all) and in-process state: the gate never touches a Redis a running
    service uses, and the state a stateful model builds while scored stays in this process."""
    from kit.catalog import load_catalog
    from kit.settings import settings_class

    row = load_catalog().service(name)
    models = [cls for cls in _defined_in(importlib.import_module(f"{row.module_name}.model"),
                                         ServedModel) if cls.name == name]
    if len(models) != 1:
        raise RuntimeError(f"{row.module_name}: expected one ServedModel named {name!r} in "
                           f"model.py")
    model = models[0](settings_class(name)(model_dir=artifact.path.parent.parent,
                                           redis_url=None))
    model.load(artifact)
    return model


def gate_spec(name: str) -> GateSpec:
    """`GATE` from the service's `promotion` module."""
    from kit.catalog import load_catalog

    module = importlib.import_module(f"{load_catalog().service(name).module_name}.promotion")
    return module.GATE


def predict_all(model: ServedModel, instances: Sequence[Any], batch_size: int = 64
                ) -> list[dict[str, Any]]:
    """Predictions in batches (a text model pads a batch to its longest text)."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(instances), batch_size):
        out.extend(model.predict(list(instances[start:start + batch_size])))
    return out


def _close(model: ServedModel | None) -> None:
    closer = getattr(model, "close", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            closer()


# --- the entry point ---------------------------------------------------------------------
def evaluate_release(name: str, candidate: Artifact, production: Artifact | None, *,
                     progress: bool = False, bootstrap: Bootstrap = Bootstrap(),
                     spec: GateSpec | None = None) -> GateResult:
    """Score `candidate` and `production` on the candidate's evaluation sets and judge every
    criterion of the model's gate. Nothing is changed anywhere: the caller moves aliases."""
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - started:6.1f}s] gate {name}: {message}",
                  file=sys.stderr, flush=True)

    spec = spec or gate_spec(name)
    sets, notes = spec.evaluation_sets(candidate)
    if production is not None and _data(candidate) != _data(production) and any(
            s.name == "holdout" for s in sets):
        notes.append("candidate and production were trained on different data: where the two "
                     "overlap, production may have trained on rows of the candidate's holdout, "
                     "which favours production")
    say("sets: " + ", ".join(f"{s.name} ({len(s.rows)} rows)" for s in sets))
    models: list[ServedModel] = []
    rows: list[Judged] = []
    described: list[dict[str, Any]] = []
    try:
        cand_model = served_model(name, candidate)
        models.append(cand_model)
        prod_model = None
        if production is not None:
            prod_model = served_model(name, production)
            models.append(prod_model)
        for eval_set in sets:
            info = eval_set.describe()
            described.append(info)
            try:
                cand = spec.outcomes(cand_model, eval_set)
            except InvalidInput as exc:
                info["skipped"] = f"the candidate cannot score it: {exc.detail}"
                notes.append(f"{eval_set.name}: not judged; {info['skipped']}")
                continue
            prod = None
            if prod_model is not None:
                try:
                    prod = spec.outcomes(prod_model, eval_set)
                except InvalidInput as exc:
                    rows.append(_not_comparable(eval_set.name, str(exc.detail)))
                    continue
            say(f"scored {eval_set.name}")
            rows.extend(_judge_set(spec, eval_set, cand, prod, bootstrap))
    finally:
        for model in models:
            _close(model)
    if not rows:
        notes.append("no criterion could be judged on any set")
    result = GateResult(name, candidate.version, production.version if production else None,
                        rows, described, notes, time.perf_counter() - started, bootstrap)
    failed = ", ".join(f"{r.set} {r.title}" for r in result.failures)
    say(f"failed: {failed}" if failed else "passed")
    return result


def _data(artifact: Artifact) -> str | None:
    return artifact.manifest.get("data_sha256")


def _judge_set(spec: GateSpec, eval_set: EvaluationSet, cand: Outcomes, prod: Outcomes | None,
               bootstrap: Bootstrap) -> list[Judged]:
    criteria = [c for c in spec.criteria
                if (not c.sets or eval_set.name in c.sets)
                and all(f in cand for f in spec.metrics[c.metric].fields)]
    if not criteria:
        return []
    n = len(next(iter(cand.values())))
    if prod is not None and len(next(iter(prod.values()))) != n:
        raise RuntimeError(f"{eval_set.name}: the two models' outcomes differ in length")
    strata = None if eval_set.strata is None else np.asarray(eval_set.strata)
    metrics = {c.metric: spec.metrics[c.metric] for c in criteria}
    paired = paired_bootstrap(metrics, cand, prod, n=n, strata=strata, settings=bootstrap,
                              key=eval_set.name)
    return [judge(c, eval_set.name, paired[c.metric], prod is not None) for c in criteria]


def _not_comparable(set_name: str, detail: str) -> Judged:
    return Judged(metric="scoring", title="production scores the set", set=set_name,
                  direction="higher", tolerance=0.0, bound=None, candidate=None,
                  production=None, difference=None, ci_low=None, ci_high=None,
                  candidate_ci_low=None, candidate_ci_high=None, verdict="fail",
                  outcome="not comparable",
                  why=f"production cannot score rows the candidate scores ({detail}): the two "
                      "versions take different inputs, so no comparison exists; promote with "
                      "--force --reason if that is intended")


# --- holdouts in artifacts --------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def write_holdout(staging: Path, rows: Iterable[dict[str, Any]], *, what: str,
                  cap: int | None = MAX_HOLDOUT_ROWS, seed: int = 0,
                  file: str = HOLDOUT_FILE) -> dict[str, Any]:
    """The rows the model never saw, as JSON lines in the staging folder (so the manifest
    hashes them like every file), at most `cap` of them (a seeded sample, in their order).
    A name ending in `.gz` is gzipped (with no timestamp, so the same rows hash the same).
    Returns the manifest's `holdout_file` entry."""
    rows = list(rows)
    total = len(rows)
    if cap is not None and total > cap:
        keep = sorted(random.Random(seed).sample(range(total), cap))
        rows = [rows[i] for i in keep]
    body = "".join(json.dumps(r, ensure_ascii=False, default=_json_default,
                              separators=(",", ":")) + "\n" for r in rows).encode("utf-8")
    path = staging / file
    if file.endswith(".gz"):
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
            fh.write(body)
    else:
        path.write_bytes(body)
    return {"file": file, "rows": len(rows), "of": total, "sampled": len(rows) < total,
            "what": what}


def read_holdout(artifact: Artifact) -> list[dict[str, Any]] | None:
    """The artifact's holdout rows, or None for a version trained before holdouts were kept."""
    info = artifact.manifest.get(HOLDOUT_MANIFEST_KEY)
    if not info:
        return None
    path = artifact.file(info["file"])
    data = path.read_bytes()
    if info["file"].endswith(".gz"):
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def holdout_source(artifact: Artifact) -> str:
    info = artifact.manifest.get(HOLDOUT_MANIFEST_KEY, {})
    sampled = f", a seeded sample of {info['of']}" if info.get("sampled") else ""
    return f"the candidate's {info.get('file', HOLDOUT_FILE)}{sampled}"


NO_HOLDOUT = ("the candidate has no holdout file (trained before the gate kept one): judged on "
              "the golden set only")


# --- text perturbations (intent and NER) -------------------------------------------------
# Word-level Hinglish: how people type these phrases in Indian chat. Applied to the words a
# perturbation may touch (never inside an NER entity).
HINGLISH = (
    (r"\bhow much\b", "kitna"), (r"\bmoney\b", "paisa"), (r"\bsend\b", "bhejo"),
    (r"\bsent\b", "bheja"), (r"\bmy\b", "mera"), (r"\bwhat is\b|\bwhat's\b", "kya hai"),
    (r"\bshow me\b|\bshow\b", "dikhao"), (r"\btell me\b", "batao"),
    (r"\bplease\b|\bpls\b", "plz"), (r"\bspent\b", "kharch kiye"), (r"\btoday\b", "aaj"),
    (r"\bthis month\b", "is mahine"), (r"\bpay\b", "bharo"), (r"\bthanks\b", "shukriya"),
    (r"\bmuch\b", "zyada"), (r"\bcan i\b", "kya main"), (r"\bwhy\b", "kyun"),
)
PERTURBATIONS = ("typo", "case", "spacing", "hinglish")
_WORD = re.compile(r"[A-Za-z]{4,}")
_KEYBOARD = dict(zip("qwertyuiopasdfghjklzxcvbnm", "wqrtyuiopoadfghjklkxcvbnmn", strict=True))


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "neighbour"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    near = _KEYBOARD.get(word[i].lower(), word[i])
    return word[:i] + near + word[i + 1:]


def _apply(kind: str, pieces: list[tuple[str, bool]], rng: random.Random) -> list[str]:
    texts = [t for t, _ in pieces]
    free = [i for i, (_, protected) in enumerate(pieces) if not protected]
    if kind == "case":
        change = str.upper if rng.random() < 0.3 else str.lower
        return [change(t) for t in texts]
    if kind == "hinglish":
        for i in free:
            for pattern, spelling in HINGLISH:
                texts[i] = re.sub(pattern, spelling, texts[i], flags=re.IGNORECASE)
        return texts
    if kind == "typo":
        words = [(i, m) for i in free for m in _WORD.finditer(texts[i])]
        if words:
            for i, match in sorted(rng.sample(words, min(len(words), 1 + len(words) // 6)),
                                   key=lambda w: (w[0], -w[1].start())):
                texts[i] = (texts[i][:match.start()] + _typo(match[0], rng)
                            + texts[i][match.end():])
        return texts
    # spacing: doubled spaces between some words, and a space before closing punctuation
    for i in free:
        texts[i] = re.sub(" ", lambda _: "  " if rng.random() < 0.5 else " ", texts[i])
        texts[i] = re.sub(r"(?<=\w)([?!.])$", r" \1", texts[i])
    if texts == [t for t, _ in pieces] and free:
        texts[free[-1]] = texts[free[-1]].replace(" ", "  ", 1) if " " in texts[free[-1]] \
            else texts[free[-1]] + " "
    return texts


def perturb_pieces(pieces: Sequence[tuple[str, bool]], key: str, seed: int = 0
                   ) -> tuple[list[str], str] | None:
    """One perturbation of a text given as pieces (text, protected): a typo, casing, spacing
    or Hinglish spellings. Protected pieces (NER entities) change only in casing, so their
    labels still hold. The kind is drawn from a generator seeded by `seed` and `key` (the
    text), so the perturbed set is the same on every run; None when nothing would change."""
    rng = random.Random(f"{seed}:{key}")
    original = [t for t, _ in pieces]
    kinds = list(PERTURBATIONS)
    rng.shuffle(kinds)
    for kind in kinds:
        texts = _apply(kind, list(pieces), rng)
        if texts != original:
            return texts, kind
    return None


def perturb_text(text: str, seed: int = 0) -> tuple[str, str] | None:
    """`perturb_pieces` for a whole text (intent): (perturbed text, kind) or None."""
    done = perturb_pieces([(text, False)], text, seed)
    return None if done is None else (done[0][0], done[1])


__all__ = [
    "Bootstrap", "Criterion", "EvaluationSet", "GateResult", "GateSpec", "Judged", "Metric",
    "auc", "average_precision", "evaluate_release", "mean", "mean_where", "micro_f1",
    "paired_bootstrap", "perturb_pieces", "perturb_text", "predict_all", "rate_ratio",
    "read_holdout", "served_model", "write_holdout",
]
