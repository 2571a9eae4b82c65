"""Training data: synthetic Indian household spending (fixed seed), and the M3 loader.

The generator draws daily transactions per category with the patterns the forecaster must
handle: a salary-cycle and weekend lift, mild inflation, a yearly wedding-season swell,
festival spikes (Diwali's shopping window above all) and a fixed monthly rent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit.settings import SHARED_DATA
from services.spending.features import festival_flags

M3_PATH = SHARED_DATA / "m3_monthly" / "m3_monthly_long.csv"

# category: (mean transactions a day, mean amount in ₹, festival multiplier)
CATEGORIES = {
    "groceries": (0.9, 450.0, 1.4),
    "food": (0.7, 320.0, 1.6),
    "transport": (0.8, 180.0, 1.2),
    "shopping": (0.25, 1500.0, 4.0),
    "utilities": (0.1, 1200.0, 1.0),
    "entertainment": (0.15, 700.0, 1.8),
}


@dataclass(frozen=True)
class SyntheticUser:
    user_id: str
    transactions: list[dict]


def generate_user(seed: int, end: dt.date, months: int) -> SyntheticUser:
    """One household's transactions over `months` whole months ending with `end`'s month."""
    rng = np.random.default_rng(seed)
    last = pd.Period(end, freq="M")
    days = pd.date_range((last - months + 1).start_time, last.end_time.normalize(), freq="D")
    flags = festival_flags(days)
    festive = flags[["diwali", "festival"]].max(axis=1).to_numpy()
    diwali = flags["diwali"].to_numpy()
    scale = rng.lognormal(0.0, 0.4)
    growth = (1 + rng.uniform(0.0, 0.1)) ** (np.arange(len(days)) / 365.0)
    payday = np.where(days.day <= 7, 1.25, 1.0)
    weekend = np.where(days.dayofweek >= 5, 1.3, 1.0)
    wedding = np.where(np.isin(days.month, [11, 12, 1, 2]), 1.15, 1.0)
    parts = []
    for name, (rate, amount, lift) in CATEGORIES.items():
        boost = 1 + (lift - 1) * np.maximum(festive * 0.5, diwali)
        counts = rng.poisson(rate * payday * weekend * wedding * boost)
        at = np.repeat(np.arange(len(days)), counts)
        values = rng.gamma(2.0, amount * scale / 2.0, size=len(at)) * growth[at]
        parts.append(pd.DataFrame({"ds": days[at], "category": name, "amount": values}))
    rent = round(float(rng.uniform(8000, 25000) * scale), -2)
    starts = pd.date_range(days[0], days[-1], freq="MS")
    rent_days = starts + pd.to_timedelta(rng.integers(0, 5, size=len(starts)), unit="D")
    parts.append(pd.DataFrame({"ds": rent_days, "category": "rent", "amount": rent}))
    frame = pd.concat(parts).sort_values("ds", kind="stable")
    transactions = [
        {"date": day.date().isoformat(), "amount": round(float(value), 2), "category": name}
        for day, name, value in zip(frame.ds, frame.category, frame.amount, strict=True)
    ]
    return SyntheticUser(f"synthetic-{seed}", transactions)


def generate_users(count: int, seed: int = 7, end: dt.date = dt.date(2024, 12, 31),
                   min_months: int = 6, max_months: int = 48) -> list[SyntheticUser]:
    """Households of varied history length whose histories end in different months of the
    year before `end` (so holdouts fall in every season, festive or not)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_months, max_months + 1, size=count)
    shifts = rng.integers(0, 12, size=count)
    last = pd.Period(end, freq="M")
    return [generate_user(seed * 1000 + i, (last - int(k)).end_time.date(), int(n))
            for i, (n, k) in enumerate(zip(lengths, shifts, strict=True))]


@dataclass(frozen=True)
class M3Series:
    series_id: str
    category: str
    start: pd.Period
    train: np.ndarray
    test: np.ndarray


def load_m3(path: Path | str = M3_PATH) -> list[M3Series]:
    """M3 monthly series split the official way: the last `nf` (18) points are the test."""
    frame = pd.read_csv(path).sort_values(["series_id", "t"])
    out = []
    for sid, part in frame.groupby("series_id", sort=True):
        first = part.iloc[0]
        start = pd.Period(year=int(first.year), month=int(first.month), freq="M")
        values = part.value.to_numpy(dtype=float)
        is_test = part.is_test.to_numpy() == 1
        out.append(M3Series(str(sid), str(first.category), start, values[~is_test],
                            values[is_test]))
    return out
