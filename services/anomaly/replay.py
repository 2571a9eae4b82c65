"""Replay a transaction frame through the serving profile code, as if each were scored live.

Labels in the frame act as feedback that arrives FRAUD_DELAY_DAYS after each fraud, which is
how the merchant fraud-rate features see them in training.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
from tqdm import tqdm

from kit.stores import MemoryRecordStore
from services.anomaly.features import (
    DAY,
    FEATURE_NAMES,
    FRAUD_DELAY_DAYS,
    LOCAL_TZ,
    AmountPrior,
    Tx,
)
from services.anomaly.profiles import ProfileStore


def epoch_seconds(local: pd.Series) -> np.ndarray:
    """Naive local timestamps as UTC epoch seconds (the same clock serving uses)."""
    aware = local.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="shift_forward")
    return (aware - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()


def frame_transactions(df: pd.DataFrame) -> list[Tx]:
    ts = df["timestamp"]
    epoch = epoch_seconds(ts)
    hour = (ts.dt.hour + ts.dt.minute / 60.0).to_numpy()
    weekday = ts.dt.weekday.to_numpy()
    category = df["category"].where(df["category"].notna(), None).tolist()
    return [
        Tx(t=float(t), amount=float(a), merchant=m, category=c, hour=float(h), weekday=int(w),
           tx_id=i)
        for t, a, m, c, h, w, i in zip(epoch, df["amount"].to_numpy(), df["merchant"].tolist(),
                                       category, hour, weekday, df["tx_id"].tolist(), strict=True)
    ]


def replay_features(
    df: pd.DataFrame, prior: AmountPrior, max_history: int = 500, progress: bool = True,
    profiles: ProfileStore | None = None,
) -> np.ndarray:
    """Features of every row in order; each row's fraud label is learnt after the delay."""
    profiles = profiles or ProfileStore(MemoryRecordStore(max_keys=10_000_000),
                                        max_history=max_history)
    out = np.empty((len(df), len(FEATURE_NAMES)), dtype=np.float32)
    users = df["user_id"].astype(str).tolist()
    frauds = df["fraud"].to_numpy()
    rows = tqdm(zip(users, frame_transactions(df), frauds, strict=True), total=len(df),
                desc="features", unit="tx", disable=not progress, mininterval=1.0)
    gc.disable()  # millions of live profile objects make every full collection slower
    try:
        for k, (user, tx, fraud) in enumerate(rows):
            out[k] = profiles.observe(user, tx, prior)
            if fraud:
                profiles.mark(tx.merchant, tx.tx_id, tx.t, True, tx.t + FRAUD_DELAY_DAYS * DAY)
    finally:
        gc.enable()
    return out
