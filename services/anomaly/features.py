"""Pure feature functions: one transaction against its user's history and its merchant's record.

Training replays a data set through these same functions, so serving and training agree.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

DAY = 86_400.0
LOCAL_TZ = ZoneInfo("Asia/Kolkata")  # naive timestamps are Indian local time
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


@dataclass(frozen=True)
class AmountPrior:
    """Population amount statistics, used for users with too little history of their own."""

    median: float
    mean: float
    std: float

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "mean": self.mean, "std": self.std}


def transaction_features(
    tx: Tx, profile: dict[str, list] | None, merchant_doc: dict[str, Any] | None,
    prior: AmountPrior,
) -> list[float]:
    """The feature vector (in FEATURE_NAMES order) of `tx` given what came before it.

    `profile` holds the user's recent transactions as parallel lists sorted by time
    (`t` epoch seconds, `a` amount, `m` merchant, `c` category); only those at or before `tx.t`
    count, so a late-arriving transaction is judged against its own past.
    """
    times = profile["t"] if profile else []
    n = bisect_right(times, tx.t)
    amounts = np.asarray(profile["a"][:n], dtype=np.float64) if n else np.zeros(0)
    warm = n >= MIN_HISTORY
    if warm:
        mean = float(amounts.sum()) / n
        std = math.sqrt(max(float(amounts @ amounts) / n - mean * mean, 0.0))
        median = float(np.partition(amounts, n // 2)[n // 2])
        top = float(amounts.max())
    else:
        median, mean, std, top = prior.median, prior.mean, prior.std, prior.median
    spread = max(std, 0.1 * mean, 1.0)
    counts, sums = [], []
    for window in (600.0, 3600.0, DAY, 7 * DAY, 30 * DAY):
        lo = bisect_left(times, tx.t - window, 0, n)
        counts.append(1.0 + n - lo)
        sums.append(tx.amount + float(amounts[lo - n:].sum()) if lo < n else tx.amount)
    span_days = min(30.0, max(1.0, (tx.t - times[0]) / DAY)) if n else 1.0
    daily_usual = (sums[4] - tx.amount) / span_days if warm else prior.mean
    merchants = profile["m"][:n] if profile else []
    day_start = n - int(counts[2]) + 1
    new_category = 0.0
    if warm and tx.category is not None:
        new_category = float(tx.category not in profile["c"][:n])
    return [
        math.log1p(tx.amount),
        tx.amount / max(median, 1.0),
        tx.amount / max(mean, 1.0),
        (tx.amount - mean) / spread,
        tx.amount / max(top, 1.0),
        *counts,
        *(math.log1p(s) for s in sums[1:]),
        sums[2] / max(daily_usual, 1.0),
        tx.hour,
        float(NIGHT_HOURS[0] <= tx.hour < NIGHT_HOURS[1]),
        float(tx.weekday >= 5),
        math.log1p(tx.t - times[n - 1]) if n else math.log1p(30 * DAY),
        float(warm and tx.merchant not in merchants),
        new_category,
        merchants.count(tx.merchant) / n if n else 0.0,
        float(len({tx.merchant, *merchants[day_start:]})),
        math.log1p(n),
        *merchant_fraud_features(merchant_doc, tx.t),
    ]


def merchant_fraud_features(doc: dict[str, Any] | None, t: float) -> tuple[float, float, float]:
    """Confirmed-fraud rate at a merchant over 7 and 30 days, counting only labels known by `t`.

    Transactions are counted in the days the labels would cover (ending FRAUD_DELAY_DAYS ago);
    frauds count once their feedback has arrived (reported at or before `t`).
    """
    if not doc:
        return 0.0, 0.0, 0.0
    frauds = doc.get("fraud")
    if not frauds:
        return 0.0, 0.0, 0.0
    day = int(t // DAY)
    fraud_days = [int(ft // DAY) for ft, reported in frauds.values() if reported <= t]
    days = [(int(d), n) for d, n in doc["days"].items()]
    out = []
    for window in FRAUD_WINDOWS_DAYS:
        start = day - FRAUD_DELAY_DAYS - window
        seen = sum(n for d, n in days if start <= d < day - FRAUD_DELAY_DAYS)
        confirmed = sum(1 for d in fraud_days if start <= d < day)
        out.append(min(1.0, confirmed / max(seen, 1)))
    start = day - FRAUD_DELAY_DAYS - FRAUD_WINDOWS_DAYS[-1]
    return out[0], out[1], float(sum(1 for d in fraud_days if start <= d < day))
