"""Reason wording and ranking."""

from __future__ import annotations

import numpy as np
import pytest

from services.anomaly.features import FEATURE_NAMES, INDEX
from services.anomaly.reasons import ReasonRanker, ordinal

LEVELS = np.linspace(0.0, 1.0, 201)


@pytest.mark.parametrize(("n", "word"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"),
                                         (11, "11th"), (12, "12th"), (22, "22nd"), (113, "113th")])
def test_ordinals(n, word):
    assert ordinal(n) == word


def ranker() -> ReasonRanker:
    quantiles = {name: np.quantile(np.zeros(1000), LEVELS) for name in FEATURE_NAMES}
    quantiles["amount_to_median"] = np.quantile(np.linspace(0.0, 4.0, 1000), LEVELS)
    quantiles["new_merchant"] = np.quantile(np.r_[np.zeros(900), np.ones(100)], LEVELS)
    return ReasonRanker(LEVELS, quantiles)


def test_rarity_is_the_share_at_or_above_the_value():
    r = ranker()
    assert r.rarity("new_merchant", 1.0) == pytest.approx(0.1, abs=0.01)
    assert r.rarity("amount_to_median", 3.0) == pytest.approx(0.25, abs=0.01)
    assert r.rarity("amount_to_median", 9.0) == 0.0


def test_rarer_facts_come_first_and_the_list_is_capped():
    features = np.zeros(len(FEATURE_NAMES))
    features[INDEX["history_log"]] = np.log1p(20)
    features[INDEX["new_merchant"]] = 1.0
    features[INDEX["amount_to_median"]] = 3.0
    assert ranker().reasons(features, limit=3) == ["new merchant", "amount is 3.0× your median"]
    features[INDEX["amount_to_median"]] = 6.0
    features[INDEX["count_10m"]] = 4
    reasons = ranker().reasons(features, limit=2)
    assert reasons[0] == "amount is 6.0× your median"
    assert len(reasons) == 2


def test_cold_start_is_said_when_there_is_room():
    features = np.zeros(len(FEATURE_NAMES))
    features[INDEX["amount_to_median"]] = 3.0
    assert ranker().reasons(features, limit=3) == [
        "amount is 3.0× the typical amount (little history yet)",
        "new user: fewer than 3 earlier transactions to compare with"]
