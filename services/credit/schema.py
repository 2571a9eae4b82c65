"""The credit service's contract: the answer's shape and the score mapping.

The request schema is not here: training writes it into the manifest (see features.py), so the
service validates against the exact fields, ranges and categories its model learnt from.
"""

from __future__ import annotations

import math
from typing import Literal

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


def band_for(probability: float, medium_from: float, high_from: float) -> str:
    if probability >= high_from:
        return "high"
    return "medium" if probability >= medium_from else "low"


DECISIONS = {"low": "approve", "medium": "review", "high": "decline"}
