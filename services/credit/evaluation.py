"""Scoring metrics for training reports: AUC, KS, average precision, Brier, ECE, cost-optimal
threshold, fairness."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from kit.calibration import expected_calibration_error


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov–Smirnov: the largest gap between the score CDFs of bads and goods."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ECE: the predicted PD against the observed default rate, 15 equal-width bins
    (kit.calibration)."""
    return {"auc": float(roc_auc_score(y, p)), "ks": ks_statistic(y, p),
            "ap": float(average_precision_score(y, p)), "brier": float(brier_score_loss(y, p)),
            "ece": expected_calibration_error(p, y)}


def cost_optimal_threshold(y: np.ndarray, p: np.ndarray, cost_fn: float, cost_fp: float) -> float:
    """Decline when p ≥ t; t minimises cost_fn·(bads approved) + cost_fp·(goods declined)."""
    candidates = np.unique(np.round(p, 4))
    best_t, best_cost = 1.0, float("inf")
    for t in candidates:
        decline = p >= t
        cost = cost_fn * np.sum((y == 1) & ~decline) + cost_fp * np.sum((y == 0) & decline)
        if cost < best_cost:
            best_t, best_cost = float(t), float(cost)
    return best_t


def age_groups(age: np.ndarray) -> np.ndarray:
    bins = np.digitize(age, [25, 35, 50])
    labels = np.array(["<25", "25-34", "35-49", "50+"])
    return labels[bins]


def fairness(
    y: np.ndarray, approved: np.ndarray, groups: np.ndarray
) -> dict[str, object]:
    """Approval-rate ratio (min/max across groups, the 'four-fifths' figure) and the
    equal-opportunity difference (max−min approval rate among applicants who repaid)."""
    rows = {}
    for g in sorted(set(groups.tolist())):
        mask = groups == g
        good = mask & (y == 0)
        rows[g] = {
            "n": int(mask.sum()),
            "approval_rate": float(approved[mask].mean()),
            "good_approval_rate": float(approved[good].mean()) if good.any() else float("nan"),
        }
    rates = [r["approval_rate"] for r in rows.values() if r["n"] >= 10]
    tprs = [r["good_approval_rate"] for r in rows.values()
            if r["n"] >= 10 and not np.isnan(r["good_approval_rate"])]
    return {
        "groups": rows,
        "approval_rate_ratio": float(min(rates) / max(rates)) if rates and max(rates) else None,
        "equal_opportunity_difference": float(max(tprs) - min(tprs)) if tprs else None,
    }
