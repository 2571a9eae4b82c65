"""Drift statistics: a window of served feature dicts against a version's reference profile.

Pure functions (numpy; scipy only for the reported χ² p-value): no I/O, no clock, so the
monitor, the tests and a notebook get the same numbers. `compare(profile, rows)` gives a
DriftReport: a score per feature and one for the dataset, all on one 0–1 scale with the alert
levels WARNING (0.3) and CRITICAL (0.5).
Why these definitions, and what the scenario tests measured: docs/drift.md.

Per feature (each statistic has its sampling noise taken off, so a score means the same at a
hundred requests as at ten thousand):
- numbers: PSI over the reference's decile bins, and the two-sample KS distance against the
  reference's 101 quantiles; score = max(PSI/(PSI + 0.25), KS beyond its 5 % critical value).
- categories (and counts with few values): PSI over the reference's frequencies (values it
  never saw count as `__other__`), with Pearson's χ² p-value reported; score = PSI/(PSI + 0.25).
- text embeddings: the window centroid's distance from the reference's, in reference standard
  deviations over the projected components (`embedding.distance`); score = d/(d + 0.25).
Drift shares: the share of features that drifted — Evidently's dataset drift share — with a
soft edge: a feature counts 0 at a score ≤ 0.3, fully at ≥ 0.5, linearly between. One share over
the instance's features (`input_score`), one over the model's outputs (`output.*`,
`output_score`: prediction drift); the dataset score is the larger of the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from kit.profile import OTHER, OUTPUT_PREFIX, category, is_number

WARNING, CRITICAL = 0.3, 0.5
PSI_HALF = 0.25  # the PSI that scores 0.5: the usual "significant shift" line
KS_ALPHA_FACTOR = 1.358  # c(α) of the two-sample KS test at α = 0.05
CENTROID_HALF = 0.25  # a centroid shift of 0.25 reference σ scores 0.5
EPSILON = 1e-4  # a reference bin's share never below this (an empty bin would be log 0)
EMBEDDING = "embedding."
DISTANCE = "embedding.distance"


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str  # numeric | categorical | embedding
    score: float
    n: int
    psi: float | None = None
    ks: float | None = None
    chi2_p: float | None = None
    distance: float | None = None


@dataclass(frozen=True)
class DriftReport:
    score: float  # the dataset score: max(input_score, output_score)
    level: str  # ok | warning | critical
    window: int
    features: dict[str, FeatureDrift] = field(default_factory=dict)
    input_score: float | None = None  # the drift share over the instance's features
    output_score: float | None = None  # the same share over the model's outputs

    @property
    def drifted(self) -> list[str]:
        return sorted(n for n, f in self.features.items() if f.score >= CRITICAL)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["drifted"] = self.drifted
        return out


def level(score: float) -> str:
    return "critical" if score >= CRITICAL else "warning" if score >= WARNING else "ok"


def half_scale(value: float, half: float) -> float:
    """0 → 0, `half` → 0.5, ∞ → 1: a divergence on the alert scale."""
    return value / (value + half) if value > 0 else 0.0


def drift_weight(score: float) -> float:
    """How much one feature counts as drifted: 0 up to WARNING, 1 from CRITICAL on."""
    return min(1.0, max(0.0, (score - WARNING) / (CRITICAL - WARNING)))


# --- the statistics --------------------------------------------------------------------------
def psi(reference: Sequence[float], counts: Sequence[float], reference_rows: int = 0) -> float:
    """Population stability index of window counts against reference shares, less its expected
    value under no drift, (bins − 1)(1/n + 1/N): PSI is a symmetric KL divergence, ≈ χ²/n, and
    both samples add their noise. The window's shares get half a count per bin, so a bin a
    small window missed is not log 0; a bin empty on both sides is left out."""
    shares = np.asarray(reference, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    informative = (shares > 0) | (c > 0)  # a value neither side has says nothing
    shares, c = shares[informative], c[informative]
    ref = np.maximum(shares, EPSILON)
    ref = ref / ref.sum()
    n = c.sum()
    win = (c + 0.5) / (n + 0.5 * len(c))
    raw = float(np.sum((win - ref) * np.log(win / ref)))
    noise = (len(c) - 1) * (1 / n + (1 / reference_rows if reference_rows else 0.0))
    return max(0.0, raw - noise)


def ks_distance(quantiles: Sequence[float], values: np.ndarray) -> float:
    """The largest gap between the window's CDF and the reference's, read off its 101 quantiles
    (1 % resolution)."""
    q = np.asarray(quantiles, dtype=np.float64)
    x = np.sort(values)
    n = len(x)
    below = np.searchsorted(q, x, side="left")  # reference levels strictly below x
    upto = np.searchsorted(q, x, side="right")
    ref_lo = np.clip((below - 1) / (len(q) - 1), 0, 1)
    ref_hi = np.clip((upto - 1) / (len(q) - 1), 0, 1)
    win_hi = np.searchsorted(x, x, side="right") / n
    win_lo = np.searchsorted(x, x, side="left") / n
    return float(max(np.max(np.abs(win_hi - ref_hi)), np.max(np.abs(win_lo - ref_lo))))


def ks_excess(d: float, n: int, reference_rows: int) -> float:
    """KS distance beyond its 5 % critical value for these sample sizes."""
    return max(0.0, d - KS_ALPHA_FACTOR * math.sqrt(1 / n + 1 / max(reference_rows, 1)))


def numeric_drift(name: str, ref: dict[str, Any], values: np.ndarray, rows: int
                  ) -> FeatureDrift:
    edges = np.asarray(ref["edges"])
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    index = psi(ref["frequencies"], counts, rows)
    d = ks_distance(ref["quantiles"], values)
    score = max(half_scale(index, PSI_HALF), ks_excess(d, len(values), rows))
    return FeatureDrift(name, "numeric", _r(score), len(values), psi=_r(index), ks=_r(d))


def categorical_drift(name: str, ref: dict[str, Any], values: Sequence[Any], rows: int
                      ) -> FeatureDrift:
    shares = ref["frequencies"]
    keys = list(shares)
    seen = [category(v) for v in values]
    counts = np.array([sum(1 for s in seen if (s if s in shares else OTHER) == k)
                       for k in keys], dtype=np.float64)
    index = psi([shares[k] for k in keys], counts, rows)
    expected = np.maximum(np.array([shares[k] for k in keys]), EPSILON)
    expected = expected / expected.sum() * counts.sum()
    return FeatureDrift(name, "categorical", _r(half_scale(index, PSI_HALF)), len(seen),
                        psi=_r(index), chi2_p=chi2_pvalue(counts, expected))


def chi2_pvalue(counts: np.ndarray, expected: np.ndarray) -> float | None:
    """Pearson's χ² goodness-of-fit p-value, reported beside the score (never part of it); None
    where scipy is not installed (it is not a base dependency of the serving images)."""
    try:
        from scipy import stats
    except ImportError:
        return None
    if len(counts) < 2:
        return 1.0
    return round(float(stats.chisquare(counts, expected).pvalue), 6)


def centroid_drift(profile: dict[str, Any], rows: Sequence[dict[str, Any]]
                   ) -> FeatureDrift | None:
    """The embedding's centroid shift, in reference σ per projected component (RMS over the
    components), less the shift two samples of these sizes show by chance."""
    names = sorted(n for n, f in profile["features"].items()
                   if n.startswith(EMBEDDING) and f["kind"] == "numeric")
    if not names:
        return None
    matrix = np.array([[row[n] for n in names] for row in rows
                       if all(is_number(row.get(n)) for n in names)], dtype=np.float64)
    if not len(matrix):
        return None
    means = np.array([profile["features"][n]["mean"] for n in names])
    stds = np.maximum([profile["features"][n]["std"] for n in names], 1e-12)
    squared = float(np.mean(((matrix.mean(axis=0) - means) / stds) ** 2))
    noise = 1 / len(matrix) + 1 / max(profile.get("rows", 0), 1)
    distance = math.sqrt(max(0.0, squared - noise))
    return FeatureDrift(DISTANCE, "embedding", _r(half_scale(distance, CENTROID_HALF)),
                        len(matrix), distance=_r(distance))


def _r(value: float) -> float:
    return round(float(value), 4)


# --- a window against a profile --------------------------------------------------------------
def feature_drift(profile: dict[str, Any], rows: Sequence[dict[str, Any]]
                  ) -> dict[str, FeatureDrift]:
    """Each profiled feature present in the window, scored; an embedding adds its distance."""
    out: dict[str, FeatureDrift] = {}
    for name, ref in profile["features"].items():
        values = [row[name] for row in rows if row.get(name) is not None]
        if not values:
            continue
        if ref["kind"] == "numeric":
            numbers = np.array([float(v) for v in values if is_number(v)])
            if len(numbers):
                out[name] = numeric_drift(name, ref, numbers, profile.get("rows", 0))
        else:
            out[name] = categorical_drift(name, ref, values, profile.get("rows", 0))
    distance = centroid_drift(profile, rows)
    if distance is not None:
        out[DISTANCE] = distance
    return out


def drift_share(features: dict[str, FeatureDrift], weights: dict[str, float] | None = None
                ) -> float | None:
    """The weighted soft share of drifted features; `weights` maps a feature name or a name
    prefix (`embedding.`) to its weight (default 1)."""
    if not features:
        return None
    w = np.array([feature_weight(name, weights or {}) for name in features])
    d = np.array([drift_weight(f.score) for f in features.values()])
    return round(float((w * d).sum() / w.sum()), 4) if w.sum() > 0 else None


def feature_weight(name: str, weights: dict[str, float]) -> float:
    if name in weights:
        return float(weights[name])
    matches = [p for p in weights if p.endswith(".") and name.startswith(p)]
    return float(weights[max(matches, key=len)]) if matches else 1.0


def compare(profile: dict[str, Any], rows: Sequence[dict[str, Any]]) -> DriftReport:
    """A window of feature dicts (ServedModel.drift_features of served records) against the
    profile: per-feature scores, the input and output drift shares, and the dataset score (the
    larger of the two) with its alert level."""
    if not rows:
        return DriftReport(0.0, "ok", 0)
    features = feature_drift(profile, rows)
    weights = profile.get("weights") or {}
    inputs = {n: f for n, f in features.items() if not n.startswith(OUTPUT_PREFIX)}
    outputs = {n: f for n, f in features.items() if n.startswith(OUTPUT_PREFIX)}
    input_score, output_score = drift_share(inputs, weights), drift_share(outputs, weights)
    score = max(s for s in (input_score, output_score, 0.0) if s is not None)
    return DriftReport(score, level(score), len(rows), features, input_score, output_score)
