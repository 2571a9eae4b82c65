"""Reference profiles: what the training data looked like, feature by feature, for drift checks.

Training runs a sample of its data through the model it is about to save (the service's own
`ServedModel`, loaded from the staging folder), turns instances and answers into flat feature
dicts with the model's `drift_features` hook — the same call the prediction log makes on served
traffic — and summarises each feature here. The profile goes into `manifest.json` under
`reference_profile`; `kit.drift` compares a window of served features with it.

A profile (format version 1, see docs/drift.md):

    {"format": 1, "rows": 2400, "state": {...},          # what drift_features needs fitted
     "features": {
        "income": {"kind": "numeric", "edges": [...], "frequencies": [...],  # PSI bins
                   "quantiles": [101 values: 0 %, 1 %, …, 100 %],           # KS, reports
                   "mean", "std", "missing"},
        "employment_type": {"kind": "categorical", "frequencies": {"salaried": 0.61, …,
                            "__other__": 0.0}, "missing"}},
     "skipped": {"user_id": "identifier: 2400 distinct values in 2400 rows"}}

Whole numbers with at most DISCRETE_MAX distinct values (counts, weekdays) are profiled as
categories: deciles of a count pile up on the same few values and PSI bins would be meaningless.
"""

from __future__ import annotations

import math
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kit.artifacts import Artifact

if TYPE_CHECKING:
    from kit.model import ServedModel
    from kit.training import TrainingRun

PROFILE_FORMAT = 1
PROFILE_KEY = "reference_profile"
BINS = 10  # PSI bins: the reference's deciles
MAX_CATEGORIES = 30  # the most frequent values kept; the rest share OTHER
DISCRETE_MAX = 12
OTHER = "__other__"
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 101)
OUTPUT_PREFIX = "output."
_TOKEN = re.compile(r"\w+", re.UNICODE)
_DIGIT = re.compile(r"\d")


# --- the default hook: scalar fields ---------------------------------------------------------
def scalar_features(instance: Any, prediction: Any) -> dict[str, Any]:
    """The scalar leaves of an instance and of its prediction (prefixed `output.`), nested
    objects as dotted names; lists and None are left out. ServedModel's default hook."""
    out: dict[str, Any] = {}
    _scalars(instance if isinstance(instance, dict) else {"value": instance}, "", out)
    _scalars(prediction if isinstance(prediction, dict) else {"value": prediction},
             OUTPUT_PREFIX, out)
    return out


def _scalars(values: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            _scalars(value, f"{prefix}{key}.", out)
        elif isinstance(value, bool | str) or (isinstance(value, int | float)
                                                and math.isfinite(value)):
            out[f"{prefix}{key}"] = value


def category(value: Any) -> str:
    """One spelling per category, in the profile and in a window: `true`, `3`, `salaried`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- text models' helpers --------------------------------------------------------------------
def tokens(text: str) -> list[str]:
    """Lower-cased words, every digit a 0: `₹2,500` and `₹1,200` are the same kind of token."""
    return _TOKEN.findall(_DIGIT.sub("0", text.lower()))


def fit_vocabulary(texts: Sequence[str], size: int = 5000, min_count: int = 2) -> list[str]:
    """The `size` most frequent training tokens seen at least `min_count` times (ties
    alphabetical: the same list every run). Leaving out the words seen once makes the training
    texts' own unknown share (their share of once-seen words) estimate what new text of the
    same kind shows — Good–Turing's estimate of the unseen — instead of a flat zero."""
    counts = Counter(t for text in texts for t in tokens(text))
    kept = [(t, n) for t, n in counts.items() if n >= min_count]
    return [t for t, _ in sorted(kept, key=lambda kv: (-kv[1], kv[0]))[:size]]


def hashed_bag(texts: Sequence[str], dim: int = 256) -> np.ndarray:
    """L2-normalised hashed bag of words (crc32, stable across processes): an embedding for a
    model that has none of its own."""
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for row, text in enumerate(texts):
        for token in tokens(text):
            out[row, zlib.crc32(token.encode()) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def fit_projection(vectors: np.ndarray, components: int) -> dict[str, Any]:
    """PCA of the training embeddings: the mean and the top `components` directions (signs
    fixed so the largest loading is positive: the same projection every run)."""
    x = np.asarray(vectors, dtype=np.float64)
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    top = vt[:components]
    signs = np.sign(top[np.arange(len(top)), np.argmax(np.abs(top), axis=1)])
    top = top * signs[:, None]
    explained = (singular[:components] ** 2).sum() / max((singular ** 2).sum(), 1e-12)
    return {"mean": np.round(mean, 6).tolist(), "components": np.round(top, 6).tolist(),
            "explained_variance": round(float(explained), 4)}


def project(projection: dict[str, Any], vectors: np.ndarray) -> np.ndarray:
    mean = np.asarray(projection["mean"])
    return (np.asarray(vectors, dtype=np.float64) - mean) @ np.asarray(projection["components"]).T


def text_features(texts: Sequence[str], vocabulary: set[str] | frozenset[str],
                  projected: np.ndarray | None) -> list[dict[str, Any]]:
    """Length in characters and tokens, the share of tokens training never saw, and the
    embedding's projection (`embedding.0`, …) for each text."""
    out = []
    for row, text in enumerate(texts):
        words = tokens(text)
        unknown = sum(w not in vocabulary for w in words)
        features: dict[str, Any] = {"text.chars": len(text), "text.tokens": len(words),
                                    "text.unknown_share": unknown / len(words) if words else 0.0}
        if projected is not None:
            features.update({f"embedding.{k}": round(float(v), 5)
                             for k, v in enumerate(projected[row])})
        out.append(features)
    return out


def fit_text_state(texts: Sequence[str], vectors: np.ndarray | None, components: int = 5
                   ) -> dict[str, Any]:
    """A text model's `fit_drift`: the training vocabulary and the embedding's projection."""
    state: dict[str, Any] = {"vocabulary": fit_vocabulary(texts)}
    if vectors is not None:
        state["projection"] = fit_projection(vectors, components)
    return state


def text_drift_features(texts: Sequence[str], state: dict[str, Any],
                        embed: Callable[[list[str]], np.ndarray]) -> list[dict[str, Any]]:
    """A text model's `drift_features` before its outputs: `text_features` with the fitted
    vocabulary and projection (none for a version trained before profiles: lengths only)."""
    vocabulary = frozenset(state.get("vocabulary", ()))
    projection = state.get("projection")
    projected = project(projection, embed(list(texts))) if projection and texts else None
    return text_features(texts, vocabulary, projected)


# --- building a profile ----------------------------------------------------------------------
def build_profile(rows: Sequence[dict[str, Any]], state: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """The profile of feature dicts (one per instance): see the module docstring."""
    names = sorted({name for row in rows for name in row})
    features, skipped = {}, {}
    for name in names:
        values = [row[name] for row in rows if row.get(name) is not None]
        missing = 1.0 - len(values) / len(rows) if rows else 0.0
        numeric = [float(v) for v in values if is_number(v)]
        discrete = all(v.is_integer() for v in numeric) and len(set(numeric)) <= DISCRETE_MAX
        if values and len(numeric) == len(values) and not discrete:
            features[name] = {**numeric_summary(np.asarray(numeric)),
                              "missing": round(missing, 6)}
            continue
        counts = Counter(category(v) for v in values)
        if len(counts) > max(MAX_CATEGORIES, len(values) // 2):
            skipped[name] = f"identifier: {len(counts)} distinct values in {len(values)} rows"
            continue
        features[name] = {"kind": "categorical", "frequencies": category_frequencies(counts),
                          "missing": round(missing, 6)}
    return {"format": PROFILE_FORMAT, "rows": len(rows), "state": state or {},
            "features": features, "skipped": skipped}


def numeric_summary(values: np.ndarray) -> dict[str, Any]:
    """PSI bins (interior deciles as edges, the reference's share in each bin), 101 quantiles
    for KS, mean and standard deviation."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return {"kind": "numeric", "edges": _round(edges), "frequencies": _round(counts / len(values)),
            "quantiles": _round(np.quantile(values, QUANTILE_LEVELS)),
            "mean": float(np.mean(values)), "std": float(np.std(values))}


def category_frequencies(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
    kept = {value: round(n / total, 6) for value, n in top}
    kept[OTHER] = round(1.0 - sum(n for _, n in top) / total, 6)
    return kept


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(values, dtype=np.float64)]


# --- training's entry point ------------------------------------------------------------------
def attach_profile(run: TrainingRun, model: ServedModel, instances: Sequence[Any],
                   predictions: Sequence[dict[str, Any]] | None = None, *,
                   fit_instances: Sequence[Any] | None = None, batch: int = 256
                   ) -> dict[str, Any]:
    """Load the staged version into `model`, fit the hook's state on `fit_instances` (default:
    `instances`), predict `instances` (unless the trainer already has the served answers),
    take their features and put the profile into the run's manifest (call after `run.record`,
    before `run.save`).

    `instances` should be rows the model did not fit (a holdout, a test window): its answers
    on its own training rows are more confident than any it will give in serving, and the
    reference would show drift on the first day."""
    if run.manifest is None:
        raise RuntimeError("record() the manifest before attaching its reference profile")
    started = time.perf_counter()
    run.manifest[PROFILE_KEY] = {"format": PROFILE_FORMAT, "state": {}}
    model.load(Artifact(run.name, "staging", run.staging, run.manifest))
    items = list(instances)
    state = model.fit_drift(list(fit_instances) if fit_instances is not None else items)
    run.manifest[PROFILE_KEY]["state"] = state
    answers = list(predictions) if predictions is not None else batched(model.predict, items,
                                                                        batch)
    rows = batched(lambda chunk: model.drift_features([i for i, _ in chunk],
                                                      [p for _, p in chunk]),
                   list(zip(items, answers, strict=True)), batch)
    profile = build_profile(rows, state)
    profile["weights"] = dict(model.drift_weights)
    profile["build_seconds"] = round(time.perf_counter() - started, 2)
    run.manifest[PROFILE_KEY] = profile
    run.say(f"reference profile: {len(profile['features'])} features over {len(rows)} rows "
            f"in {profile['build_seconds']} s")
    return profile


def batched(call: Callable[[list], list], items: list, size: int) -> list:
    return [out for start in range(0, len(items), size)
            for out in call(items[start:start + size])]


def reference_profile(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The manifest's profile, or None for a version trained before profiles existed."""
    profile = (manifest or {}).get(PROFILE_KEY)
    return profile if profile and profile.get("features") is not None else None
