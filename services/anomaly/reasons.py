"""Reasons in words: which unusual facts about a transaction to tell the user, most unusual first.

A rule fires when a feature crosses a plain-language line ("6.2× your median"); the fired rules
are ranked by how rare the feature's value was among training transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from services.anomaly.features import INDEX, MIN_HISTORY


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _clock(hour: float) -> str:
    return f"{int(hour):02d}:{round((hour % 1) * 60) % 60:02d}"


Rule = tuple[str, Callable[[Sequence[float], bool], bool], Callable[[Sequence[float], bool], str]]

RULES: list[Rule] = [
    ("amount_to_median", lambda f, warm: f[INDEX["amount_to_median"]] >= 2.5,
     lambda f, warm: f"amount is {f[INDEX['amount_to_median']]:.1f}× "
                     + ("your median" if warm else "the typical amount (little history yet)")),
    ("amount_to_max", lambda f, warm: warm and f[INDEX["amount_to_max"]] > 1.0
     and 1.5 <= f[INDEX["amount_to_median"]] < 2.5,
     lambda f, warm: "largest amount in your recent history"),
    ("count_10m", lambda f, warm: f[INDEX["count_10m"]] >= 3,
     lambda f, warm: f"{ordinal(int(f[INDEX['count_10m']]))} transaction in 10 minutes"),
    ("count_1h", lambda f, warm: f[INDEX["count_1h"]] >= 5 and f[INDEX["count_10m"]] < 3,
     lambda f, warm: f"{ordinal(int(f[INDEX['count_1h']]))} transaction in an hour"),
    ("day_spend_ratio", lambda f, warm: warm and f[INDEX["day_spend_ratio"]] >= 3,
     lambda f, warm: f"spent {f[INDEX['day_spend_ratio']]:.1f}× your usual daily amount today"),
    ("new_merchant", lambda f, warm: f[INDEX["new_merchant"]] == 1,
     lambda f, warm: "new merchant"),
    ("new_category", lambda f, warm: f[INDEX["new_category"]] == 1,
     lambda f, warm: "new spending category for you"),
    ("is_night", lambda f, warm: f[INDEX["is_night"]] == 1,
     lambda f, warm: f"at night ({_clock(f[INDEX['hour']])})"),
    ("merchant_fraud_count_30d", lambda f, warm: f[INDEX["merchant_fraud_count_30d"]] >= 1,
     lambda f, warm: f"merchant had {int(f[INDEX['merchant_fraud_count_30d']])} confirmed "
                     "fraud(s) in the last 30 days"),
]
COLD_START = "new user: fewer than {n} earlier transactions to compare with"


class ReasonRanker:
    """Ranks fired rules by the training-time tail probability of the feature's value."""

    def __init__(self, levels: Sequence[float], quantiles: dict[str, Sequence[float]]) -> None:
        self.levels = np.asarray(levels, dtype=float)
        self.quantiles = {k: np.asarray(v, dtype=float) for k, v in quantiles.items()}

    def rarity(self, feature: str, value: float) -> float:
        """The share of training transactions at or above `value` (smaller = rarer)."""
        q = self.quantiles[feature]
        position = int(np.searchsorted(q, value, side="left"))
        return 1.0 - (float(self.levels[position - 1]) if position else 0.0)

    def reasons(self, features: Sequence[float], limit: int) -> list[str]:
        warm = np.expm1(features[INDEX["history_log"]]) >= MIN_HISTORY - 0.5
        fired = [(self.rarity(name, features[INDEX[name]]), text(features, warm))
                 for name, fires, text in RULES if fires(features, warm)]
        out = [text for _, text in sorted(fired, key=lambda pair: pair[0])][:limit]
        if not warm and len(out) < limit:
            out.append(COLD_START.format(n=MIN_HISTORY))
        return out
