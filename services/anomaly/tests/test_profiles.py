"""Profiles and features: Redis and in-process stores agree; training and serving agree;
labels reach the merchant fraud-rate features only after the delay."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kit.stores import MemoryRecordStore, RedisRecordStore
from kit.testing import running_client
from services.anomaly.app import build_app
from services.anomaly.data import generate_transactions
from services.anomaly.features import DAY, FEATURE_NAMES, INDEX, AmountPrior, Tx
from services.anomaly.forest import ForestScorer
from services.anomaly.profiles import ProfileStore
from services.anomaly.replay import replay_features
from services.anomaly.settings import AnomalySettings

PRIOR = AmountPrior(median=300.0, mean=500.0, std=800.0)


def sample_frame(rows: int = 300) -> pd.DataFrame:
    df = generate_transactions(n_users=20, n_merchants=60, days=12, seed=11)
    return df.head(rows).reset_index(drop=True)


def as_instances(df: pd.DataFrame) -> list[dict]:
    return [{"user_id": r.user_id, "transaction_id": r.tx_id,
             "transaction": {"timestamp": r.timestamp.isoformat(), "amount": r.amount,
                             "merchant": r.merchant, "category": r.category,
                             "channel": r.channel}}
            for r in df.itertuples()]


def test_redis_and_memory_profiles_give_the_same_features(redis_url):
    df = sample_frame()
    redis_store = RedisRecordStore(redis_url, "anomaly-test")
    redis_store.clear()
    try:
        from_memory = replay_features(df, PRIOR, progress=False,
                                      profiles=ProfileStore(MemoryRecordStore()))
        from_redis = replay_features(df, PRIOR, progress=False,
                                     profiles=ProfileStore(redis_store))
        user = df["user_id"].iloc[0]
        assert ProfileStore(redis_store).profile(user)["i"] == \
            df.loc[df["user_id"] == user, "tx_id"].tolist()
    finally:
        redis_store.clear()
        redis_store.close()
    np.testing.assert_allclose(from_memory, from_redis, rtol=1e-6)
    assert from_memory[:, INDEX["merchant_fraud_count_30d"]].max() >= 0


async def test_service_with_redis_answers_like_the_in_process_one(model_dir, redis_url):
    instances = as_instances(sample_frame(120))
    answers = []
    for url in (None, redis_url):
        settings = AnomalySettings(model_dir=model_dir, redis_url=url)
        async with running_client(build_app(settings)) as client:
            model = client._transport.app.state.model_state.model
            model.profiles.store.clear()
            response = await client.post("/v1/models/anomaly:predict",
                                         json={"instances": instances})
            assert response.status_code == 200
            answers.append(response.json()["predictions"])
            model.profiles.store.clear()
    assert answers[0] == answers[1]


async def test_serving_scores_match_training_features(model_dir, artifact_path):
    df = sample_frame(200)
    async with running_client(build_app(AnomalySettings(model_dir=model_dir))) as client:
        response = await client.post("/v1/models/anomaly:predict",
                                     json={"instances": as_instances(df)})
    served = np.array([p["score"] for p in response.json()["predictions"]])
    reference = json.loads((artifact_path / "reference.json").read_text())
    columns = [FEATURE_NAMES.index(f) for f in reference["model_features"]]
    prior = AmountPrior(**reference["amount_prior"])
    offline = ForestScorer(artifact_path / "model.onnx").score(
        replay_features(df.assign(fraud=0), prior, progress=False)[:, columns])
    np.testing.assert_allclose(served, offline, atol=1e-4)


def tx(t_days: float, merchant: str, tx_id: str, amount: float = 100.0) -> Tx:
    return Tx(t=1_700_000_000 + t_days * DAY, amount=amount, merchant=merchant, category=None,
              hour=12.0, weekday=2, tx_id=tx_id)


def test_fraud_labels_reach_the_merchant_features_after_the_delay():
    frame = pd.DataFrame({
        "tx_id": ["a", "b", "c", "d"], "user_id": ["u1", "u2", "u3", "u4"],
        "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 12:00", "2024-01-05 10:00",
                                     "2024-01-09 10:00"]),
        "amount": [100.0] * 4, "merchant": ["m"] * 4, "category": [None] * 4,
        "channel": [None] * 4, "fraud": [1, 0, 0, 0], "scenario": [2, 0, 0, 0],
    })
    X = replay_features(frame, PRIOR, progress=False)
    counts = X[:, INDEX["merchant_fraud_count_30d"]].tolist()
    assert counts == [0.0, 0.0, 0.0, 1.0]  # known on day 8 (1st + 7 days), not before
    assert X[3, INDEX["merchant_fraud_rate_7d"]] == pytest.approx(0.5)  # 1 of 2 due


def test_profile_features_from_a_crafted_history():
    profiles = ProfileStore(MemoryRecordStore(), max_history=100)
    for k in range(10):
        profiles.observe("u", tx(k, f"shop{k % 2}", f"t{k}", amount=100.0 + k), PRIOR)
    f = profiles.observe("u", tx(10, "elsewhere", "t10", amount=1000.0), PRIOR)
    assert f[INDEX["amount_to_median"]] == pytest.approx(1000.0 / 105.0)
    assert f[INDEX["new_merchant"]] == 1.0
    assert f[INDEX["count_7d"]] == 8.0  # days 3..9 (the window includes its start) and this one
    assert f[INDEX["since_prev_log"]] == pytest.approx(np.log1p(DAY))
    assert f[INDEX["history_log"]] == pytest.approx(np.log1p(10))
    late = profiles.observe("u", tx(4.5, "shop0", "late"), PRIOR)  # arrives out of order
    assert late[INDEX["history_log"]] == pytest.approx(np.log1p(5))
    assert profiles.profile("u")["t"] == sorted(profiles.profile("u")["t"])
