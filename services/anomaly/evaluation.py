"""Holdout metrics the handbook reports: AUC-ROC, average precision, card precision@k per day."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score


def card_precision_at_k(frame: pd.DataFrame, scores: np.ndarray, k: int = 100) -> list[float]:
    """Per day: of the k cards (users) with the highest score that day, the share with fraud.

    As in the handbook, a card's score for a day is its highest transaction score that day and
    a card counts as compromised if any of its transactions that day is fraud.
    """
    days = pd.DataFrame({"day": frame["timestamp"].dt.normalize().to_numpy(),
                         "user": frame["user_id"].to_numpy(), "score": scores,
                         "fraud": frame["fraud"].to_numpy()})
    cards = days.groupby(["day", "user"], sort=False).agg(score=("score", "max"),
                                                         fraud=("fraud", "max"))
    out = []
    for _, per_day in cards.groupby(level="day", sort=True):
        top = per_day.nlargest(k, "score")
        out.append(float(top["fraud"].sum()) / k)
    return out


def holdout_metrics(frame: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict:
    """Ranking quality plus what the chosen threshold does on the holdout."""
    y = frame["fraud"].to_numpy()
    flagged = scores >= threshold
    daily = card_precision_at_k(frame, scores)
    genuine = max(int((y == 0).sum()), 1)
    return {
        "transactions": len(y),
        "fraud_rate": round(float(y.mean()), 5),
        "auc_roc": round(float(roc_auc_score(y, scores)), 4) if 0 < y.sum() < len(y) else None,
        "average_precision": round(float(average_precision_score(y, scores)), 4)
        if y.sum() else None,
        "card_precision_at_100_per_day": [round(v, 3) for v in daily],
        "card_precision_at_100_mean": round(float(np.mean(daily)), 4),
        "flagged_rate": round(float(flagged.mean()), 5),
        "false_positive_rate": round(float((flagged & (y == 0)).sum() / genuine), 5),
        "recall_at_threshold": round(float((flagged & (y == 1)).sum() / max(int(y.sum()), 1)), 4),
        "precision_at_threshold": round(float((flagged & (y == 1)).sum()
                                              / max(int(flagged.sum()), 1)), 4),
    }


def unsupervised_metrics(frame: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict:
    """Without fraud labels only the scores can be described: their distribution and how many
    alerts the threshold raises (overall and a day), never a precision or a recall."""
    flagged = scores >= threshold
    per_day = pd.Series(flagged).groupby(frame["timestamp"].dt.normalize().to_numpy()).sum()
    return {
        "labelled": False,
        "transactions": len(scores),
        "users": int(frame["user_id"].nunique()),
        "flagged_rate": round(float(flagged.mean()), 5),
        "alerts_per_day_mean": round(float(per_day.mean()), 2),
        "score_quantiles": {f"p{q}": round(float(np.quantile(scores, q / 100)), 4)
                            for q in (50, 90, 99)} | {"max": round(float(scores.max()), 4)},
    }
