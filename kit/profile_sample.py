"""A reference sample drawn from a reference profile, for tools that want rows, not summaries.

The artifact keeps no training rows, only their profile (kit/profile.py); Evidently and other
two-sample tools compare two tables. So the reference table is drawn from the profile:
- a number by inverse CDF over its 101 stored quantiles (a uniform draw, interpolated between
  the neighbouring percentiles: exact at 1 % resolution, linear in between);
- a category by its stored frequencies (`__other__` stays a value of its own, as in the drift
  statistics); a share `missing` of either is None.
Each feature is drawn on its own: the profile keeps no correlations, so a sample is right for
per-column tests (what Evidently's DataDriftPreset runs) and wrong for anything joint. A fixed
seed gives the same sample for the same profile.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEED = 0


def sample_feature(ref: dict[str, Any], n: int, rng: np.random.Generator) -> list[Any]:
    """`n` values of one profiled feature (None where a draw falls in its missing share)."""
    if ref["kind"] == "numeric":
        values: list[Any] = inverse_cdf(ref, rng.random(n)).tolist()
    else:
        names = list(ref["frequencies"])
        shares = np.array([ref["frequencies"][k] for k in names], dtype=np.float64)
        picked = rng.choice(len(names), size=n, p=shares / shares.sum()) if shares.sum() > 0 \
            else np.zeros(n, dtype=int)
        values = [names[i] for i in picked]
    missing = float(ref.get("missing") or 0.0)
    if missing > 0:
        holes = rng.random(n) < missing
        values = [None if hole else v for v, hole in zip(values, holes, strict=True)]
    return values


def inverse_cdf(ref: dict[str, Any], u: np.ndarray) -> np.ndarray:
    """Values at uniform draws `u`: linear between the stored percentiles, except in the two
    outer ones (0–1 %, 99–100 %), which reach the minimum and maximum. Drawn linearly there, a
    long tail's 1 % would spread evenly up to the maximum and inflate the spread (income's
    standard deviation by 19 %, loan-to-income's by 50 %); so both outer intervals take the
    shape x = edge ± width·tᵏ, with the one k that gives the sample the profile's mean (k = 1 is
    linear; a larger k keeps the tail near its inner percentile, as a long tail is)."""
    q = np.asarray(ref["quantiles"], dtype=np.float64)  # 0 %, 1 %, …, 100 %
    levels = np.linspace(0.0, 1.0, len(q))
    out = np.interp(u, levels, q)
    step = levels[1]
    low, high = q[1] - q[0], q[-1] - q[-2]
    inner = float(np.sum((q[1:-2] + q[2:-1]) / 2) * step)  # the 98 inner intervals' mean share
    spare = ref.get("mean", np.nan) - inner - step * (q[1] + q[-2])  # what the tails carry
    share = spare / (step * (high - low)) if abs(high - low) > 1e-12 else np.nan  # = 1/(k+1)
    k = 1 / min(0.5, share) - 1 if np.isfinite(share) and share > 0.02 else 1.0
    top, bottom = u > levels[-2], u < step
    out[top] = q[-2] + high * ((u[top] - levels[-2]) / step) ** k
    out[bottom] = q[1] - low * ((step - u[bottom]) / step) ** k
    return out


def reference_sample(profile: dict[str, Any], n: int | None = None, seed: int = SEED
                     ) -> list[dict[str, Any]]:
    """`n` rows (default: as many as the profile summarised) of every profiled feature."""
    n = int(n if n is not None else profile.get("rows") or 1000)
    rng = np.random.default_rng(seed)
    columns = {name: sample_feature(ref, n, rng)
               for name, ref in sorted(profile["features"].items())}
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]
