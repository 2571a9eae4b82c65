"""Pure feature functions: one transaction against its user's history and its merchant's record.

Training replays a data set through these same functions, so serving and training agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

DAY = 86_400.0
MIN_HISTORY = 3  # below this a user is "cold": amounts are compared with the population
FRAUD_DELAY_DAYS = 7  # labels reach training this long after a transaction, as in practice
FRAUD_WINDOWS_DAYS = (7, 30)
NIGHT_HOURS = (0.0, 6.0)

FEATURE_NAMES = (
    "amount_log",
    "amount_to_median",
    "amount_to_mean",
    "amount_zscore",
    "amount_to_max",
    "count_10m",
    "count_1h",
    "count_1d",
    "count_7d",
    "count_30d",
    "sum_1h_log",
    "sum_1d_log",
    "sum_7d_log",
    "sum_30d_log",
    "day_spend_ratio",
    "hour",
    "is_night",
    "is_weekend",
    "since_prev_log",
    "new_merchant",
    "new_category",
    "merchant_share",
    "distinct_merchants_1d",
    "history_log",
    "merchant_fraud_rate_7d",
    "merchant_fraud_rate_30d",
    "merchant_fraud_count_30d",
)
INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class Tx:
    """A transaction reduced to what features need; `hour`/`weekday` are local time."""

    t: float
    amount: float
    merchant: str
    category: str | None
    hour: float
    weekday: int
    tx_id: str | None = None

    def record(self) -> dict[str, Any]:
        """What a user's profile keeps of it (short keys: profiles hold hundreds of these)."""
        return {"i": self.tx_id, "t": self.t, "a": self.amount, "m": self.merchant,
                "c": self.category}


@dataclass(frozen=True)
class AmountPrior:
    """Population amount statistics, used for users with too little history of their own."""

    median: float
    mean: float
    std: float

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "mean": self.mean, "std": self.std}


def transaction_features(
    tx: Tx, history: list[dict[str, Any]], merchant_doc: dict[str, Any] | None, prior: AmountPrior
) -> np.ndarray:
    """The feature vector (in FEATURE_NAMES order) of `tx` given what came before it."""
    past = [r for r in history if r["t"] <= tx.t and (tx.tx_id is None or r["i"] != tx.tx_id)]
    times = np.fromiter((r["t"] for r in past), float, len(past))
    amounts = np.fromiter((r["a"] for r in past), float, len(past))
    age = tx.t - times
    warm = len(past) >= MIN_HISTORY
    if warm:
        median, mean, std, top = (float(np.median(amounts)), float(amounts.mean()),
                                  float(amounts.std()), float(amounts.max()))
    else:
        median, mean, std, top = prior.median, prior.mean, prior.std, prior.median
    spread = max(std, 0.1 * mean, 1.0)
    out = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    out[0] = math.log1p(tx.amount)
    out[1] = tx.amount / max(median, 1.0)
    out[2] = tx.amount / max(mean, 1.0)
    out[3] = (tx.amount - mean) / spread
    out[4] = tx.amount / max(top, 1.0)
    sums = []
    for k, window in enumerate((600.0, 3600.0, DAY, 7 * DAY, 30 * DAY)):
        inside = age < window
        out[5 + k] = 1 + int(inside.sum())
        sums.append(tx.amount + float(amounts[inside].sum()))
    for k in range(4):
        out[10 + k] = math.log1p(sums[k + 1])
    span_days = min(30.0, max(1.0, float(age.max()) / DAY)) if len(past) else 1.0
    daily_usual = (sums[4] - tx.amount) / span_days if warm else prior.mean
    out[14] = sums[2] / max(daily_usual, 1.0)
    out[15] = tx.hour
    out[16] = float(NIGHT_HOURS[0] <= tx.hour < NIGHT_HOURS[1])
    out[17] = float(tx.weekday >= 5)
    out[18] = math.log1p(float(age.min())) if len(past) else math.log1p(30 * DAY)
    merchants = [r["m"] for r in past]
    out[19] = float(warm and tx.merchant not in merchants)
    if warm and tx.category is not None:
        out[20] = float(tx.category not in {r["c"] for r in past})
    out[21] = merchants.count(tx.merchant) / len(past) if past else 0.0
    today = age < DAY
    out[22] = len({m for m, recent in zip(merchants, today, strict=True) if recent} | {tx.merchant})
    out[23] = math.log1p(len(past))
    out[24:27] = merchant_fraud_features(merchant_doc, tx.t)
    return out


def merchant_fraud_features(doc: dict[str, Any] | None, t: float) -> tuple[float, float, float]:
    """Confirmed-fraud rate at a merchant over 7 and 30 days, counting only labels known by `t`.

    Transactions are counted in the days the labels would cover (ending FRAUD_DELAY_DAYS ago);
    frauds count once their feedback has arrived (reported at or before `t`).
    """
    if not doc:
        return 0.0, 0.0, 0.0
    day = int(t // DAY)
    days = {int(d): n for d, n in doc.get("days", {}).items()}
    fraud_days = [int(ft // DAY) for ft, reported in doc.get("fraud", {}).values() if reported <= t]
    out = []
    for window in FRAUD_WINDOWS_DAYS:
        start = day - FRAUD_DELAY_DAYS - window
        seen = sum(n for d, n in days.items() if start <= d < day - FRAUD_DELAY_DAYS)
        frauds = sum(1 for d in fraud_days if start <= d < day)
        out.append(min(1.0, frauds / max(seen, 1)))
    return out[0], out[1], float(sum(1 for d in fraud_days if day - 30 - FRAUD_DELAY_DAYS <= d < day))
