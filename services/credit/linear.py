"""The regularised logistic-regression baseline: standardised columns (the spec's one-hot and
numeric columns alike), L2, C chosen by cross-validation on the train split.

Fitted with scikit-learn at training time (`train.fit_linear`), served as plain arrays
(`linear.npz`) with numpy, so a served logistic model needs neither scikit-learn nor ONNX.
Its reasons are the coefficient × the standardised value of each column: log-odds relative to
the average training applicant, the same units (and answer shape) as the trees' Saabas
contributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LINEAR_NPZ = "linear.npz"


@dataclass(frozen=True)
class LinearScorer:
    mean: np.ndarray  # per column, float64
    scale: np.ndarray  # per column (1 for a constant column, as StandardScaler does)
    coef: np.ndarray
    intercept: float

    def contributions(self, x: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Log-odds per column, [rows, columns] (their sum plus the intercept is the margin),
        or summed per reported feature for `groups` ([columns, features] of 0/1)."""
        per_column = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale * self.coef
        return per_column if groups is None else per_column @ groups

    @property
    def bias(self) -> float:
        """The margin of the average applicant (every standardised column at 0)."""
        return self.intercept

    def raw_probability(self, x: np.ndarray) -> np.ndarray:
        margin = self.contributions(x).sum(axis=1) + self.intercept
        return 1.0 / (1.0 + np.exp(-margin))

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, scale=self.scale, coef=self.coef,
                 intercept=np.array([self.intercept]))

    @classmethod
    def load(cls, path: Path) -> LinearScorer:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["mean"], data["scale"], data["coef"], float(data["intercept"][0]))
