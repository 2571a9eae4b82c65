"""Transaction data: a seeded generator the project ships, and the handbook's public simulation.

Both give one frame, oldest first, with columns tx_id, user_id, timestamp (naive, local time),
amount (rupees), merchant, category, channel, fraud (0/1) and scenario (0 = genuine).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kit.settings import SHARED_DATA

HANDBOOK_CSV = (SHARED_DATA / "fraud_sim_handbook"
                / "transactions_2018-07-01_2018-08-14.csv")
CATEGORIES = ("groceries", "food", "fuel", "travel", "shopping", "bills", "health", "entertainment")
CHANNELS = ("upi", "card", "netbanking")
COLUMNS = ["tx_id", "user_id", "timestamp", "amount", "merchant", "category", "channel",
           "fraud", "scenario"]


def generate_transactions(
    n_users: int = 600, n_merchants: int = 2_000, days: int = 45, seed: int = 7,
    start: str = "2024-01-01",
) -> pd.DataFrame:
    """Simulated Indian card/UPI spending with three fraud patterns, as in the handbook.

    1: a very large amount; 2: a compromised merchant (all its payments for 14 days);
    3: a taken-over account (for 7 days, a third of its payments are 5x larger, at new
    merchants, often at night and in quick bursts).
    """
    rng = np.random.default_rng(seed)
    merchant_category = rng.integers(0, len(CATEGORIES), n_merchants)
    origin = pd.Timestamp(start)
    frames = []
    for user in range(n_users):
        rate = rng.uniform(0.5, 4.0)
        typical = rng.lognormal(6.0, 0.6)
        favourites = rng.choice(n_merchants, size=rng.integers(5, 25), replace=False)
        n = rng.poisson(rate * days)
        day = rng.integers(0, days, n)
        hour = np.clip(rng.normal(14, 4, n), 6.0, 23.9)
        seconds = day * 86_400 + (hour * 3600).astype(int) + rng.integers(0, 60, n)
        merchant = np.where(rng.random(n) < 0.9, rng.choice(favourites, n),
                            rng.integers(0, n_merchants, n))
        amount = np.round(rng.gamma(2.0, typical / 2.0, n), 2)
        channel = rng.choice(len(CHANNELS), n, p=[0.6, 0.3, 0.1])
        frames.append(pd.DataFrame({"user_id": f"u{user:05d}", "seconds": seconds,
                                    "amount": amount, "merchant_idx": merchant,
                                    "channel": channel, "scenario": 0}))
    df = pd.concat(frames, ignore_index=True)
    df = _inject_takeovers(df, rng, n_merchants, days)
    big = rng.random(len(df)) < 0.001
    df.loc[big, "amount"] = np.round(rng.uniform(25_000, 90_000, int(big.sum())), 2)
    df.loc[big, "scenario"] = 1
    for merchant in rng.choice(n_merchants, size=max(1, n_merchants // 100), replace=False):
        first = rng.integers(days // 4, days - 3) * 86_400
        hit = (df["merchant_idx"] == merchant) & df["seconds"].between(first, first + 14 * 86_400)
        df.loc[hit & (df["scenario"] == 0), "scenario"] = 2
    df = df.sort_values("seconds", kind="stable").reset_index(drop=True)
    df["tx_id"] = [f"g{i:07d}" for i in range(len(df))]
    df["timestamp"] = origin + pd.to_timedelta(df["seconds"], unit="s")
    df["merchant"] = "m" + df["merchant_idx"].astype(str).str.zfill(5)
    df["category"] = np.asarray(CATEGORIES)[merchant_category[df["merchant_idx"]]]
    df["channel"] = np.asarray(CHANNELS)[df["channel"]]
    df["fraud"] = (df["scenario"] > 0).astype(int)
    return df[COLUMNS]


def _inject_takeovers(df: pd.DataFrame, rng: np.random.Generator, n_merchants: int,
                      days: int) -> pd.DataFrame:
    """Account takeover: extra and inflated payments at strange merchants and hours."""
    users = df["user_id"].unique()
    extra = []
    for user in rng.choice(users, size=max(1, len(users) // 30), replace=False):
        first = int(rng.integers(days // 4, days - 3)) * 86_400
        own = (df["user_id"] == user) & df["seconds"].between(first, first + 7 * 86_400)
        victims = own & (rng.random(len(df)) < 1 / 3)
        df.loc[victims, "amount"] = np.round(df.loc[victims, "amount"] * 5, 2)
        df.loc[victims, "merchant_idx"] = rng.integers(0, n_merchants, int(victims.sum()))
        df.loc[victims, "scenario"] = 3
        typical = float(df.loc[df["user_id"] == user, "amount"].median())
        for _ in range(int(rng.integers(1, 4))):
            burst_at = first + int(rng.integers(0, 7 * 86_400))
            size = int(rng.integers(2, 5))
            extra.append(pd.DataFrame({
                "user_id": user,
                "seconds": burst_at + np.cumsum(rng.integers(20, 240, size)),
                "amount": np.round(typical * rng.uniform(2, 6, size), 2),
                "merchant_idx": rng.integers(0, n_merchants, size),
                "channel": 0, "scenario": 3,
            }))
    return pd.concat([df, *extra], ignore_index=True)


def load_handbook(path: Path | str = HANDBOOK_CSV) -> pd.DataFrame:
    """The handbook's simulated card transactions; the terminal stands in for the merchant."""
    raw = pd.read_csv(path, parse_dates=["TX_DATETIME"])
    df = pd.DataFrame({
        "tx_id": raw["TRANSACTION_ID"].astype(str),
        "user_id": raw["CUSTOMER_ID"].astype(str),
        "timestamp": raw["TX_DATETIME"],
        "amount": raw["TX_AMOUNT"].astype(float),
        "merchant": "terminal:" + raw["TERMINAL_ID"].astype(str),
        "category": None,
        "channel": None,
        "fraud": raw["TX_FRAUD"].astype(int),
        "scenario": raw["TX_FRAUD_SCENARIO"].astype(int),
    })
    return df.sort_values("timestamp", kind="stable").reset_index(drop=True)
