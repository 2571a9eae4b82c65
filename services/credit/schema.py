"""The credit service's contract: the answer's shape and the score mapping.

The request schema is not here: training writes it into the manifest (see features.py), so the
service validates against the exact fields, ranges and categories its model learnt from.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field


class Reason(BaseModel):
    feature: str
    value: float | str | None
    contribution: float = Field(description="log-odds this feature adds to the default risk")
    direction: Literal["increases_risk", "decreases_risk"]


class CreditPrediction(BaseModel):
    """One application's risk: probability of default, its 0–100 score, band and decision."""

    probability_of_default: float = Field(ge=0, le=1)
    risk_score: int = Field(ge=0, le=100)
    band: Literal["low", "medium", "high"]
    decision: Literal["approve", "review", "decline"]
    reasons: list[Reason]


def risk_score(probability: float) -> int:
    """0–100, higher is riskier: 100 × PD, rounded. Linear so that a score reads as a
    percentage chance of default, which is what a reviewer asks first."""
    if not math.isfinite(probability):
        raise ValueError("probability must be finite")
    return round(100 * min(max(probability, 0.0), 1.0))


# Below this many values numpy's dozen calls cost more than `round` on each (a one-row predict
# went 87 -> 138 µs with them): small arrays are rounded by Python.
VECTOR_FROM = 64


def risk_scores(probability: np.ndarray) -> list[int]:
    """`risk_score` of each probability: numpy's rint rounds half to even, as `round` does."""
    probability = np.asarray(probability, dtype=np.float64)
    if probability.size < VECTOR_FROM:
        return [risk_score(p) for p in probability.tolist()]
    if not np.isfinite(probability).all():
        raise ValueError("probability must be finite")
    return np.rint(100 * np.clip(probability, 0.0, 1.0)).astype(np.int64).tolist()


def exact_round(values: np.ndarray, digits: int) -> list:
    """`round(v, digits)` of each value of a 1-D or 2-D array, as (nested) lists of floats,
    at numpy's speed. Python rounds the exact decimal value; scaling, `rint` and dividing give
    the same double except where the scaled value lies within float error of a half (or is
    too large or not finite), and those few are rounded by Python (tested on such halves).
    Any input is taken as float64, as Python's floats are."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < VECTOR_FROM:
        if values.ndim == 1:
            return [round(v, digits) for v in values.tolist()]
        return [[round(v, digits) for v in row] for row in values.tolist()]
    scale = 10.0 ** digits
    scaled = values * scale
    out = np.rint(scaled) / scale
    with np.errstate(invalid="ignore"):
        doubtful = ~(np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6) | ~(np.abs(scaled) < 2**50)
    if doubtful.any():
        out[doubtful] = [round(v, digits) for v in values[doubtful].tolist()]
    return out.tolist()


def band_names(probability: np.ndarray, medium_from: float, high_from: float) -> list[str]:
    """`band_for` of each probability."""
    probability = np.asarray(probability, dtype=np.float64)
    if probability.size < VECTOR_FROM:
        return [band_for(p, medium_from, high_from) for p in probability.tolist()]
    index = np.where(probability >= high_from, 2, np.where(probability >= medium_from, 1, 0))
    return [BANDS[i] for i in index.tolist()]


def band_for(probability: float, medium_from: float, high_from: float) -> str:
    if probability >= high_from:
        return "high"
    return "medium" if probability >= medium_from else "low"


DECISIONS = {"low": "approve", "medium": "review", "high": "decline"}
BANDS = tuple(DECISIONS)  # low, medium, high: the indices band_names picks
