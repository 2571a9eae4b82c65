import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.spending.data import generate_users
from services.spending.train import TrainConfig, train


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """One small trained artifact for the whole session (six synthetic households)."""
    root = tmp_path_factory.mktemp("models")
    cfg = TrainConfig(users=6, seed=3, min_months=8, max_months=30)
    users = generate_users(cfg.users, cfg.seed, min_months=cfg.min_months,
                           max_months=cfg.max_months)
    train(users, root, cfg, progress=False)
    return root


def monthly_history(months: int, start: str = "2019-01", seed: int = 0) -> list[dict]:
    """Monthly totals with a trend, a yearly swing and noise."""
    rng = np.random.default_rng(seed)
    periods = pd.period_range(start, periods=months, freq="M")
    values = 40000 + 150 * np.arange(months) + 5000 * np.sin(2 * np.pi * periods.month / 12)
    values = values + rng.normal(0, 800, months)
    return [{"month": str(p), "amount": round(float(v), 2)} for p, v in zip(periods, values,
                                                                             strict=True)]


def daily_transactions(start: str, end: str, spike: tuple[str, str] | None = None,
                       seed: int = 0, categories=("food", "travel")) -> list[dict]:
    """About ₹1,000 a day; ten times that inside the `spike` window."""
    rng = np.random.default_rng(seed)
    out = []
    for day in pd.date_range(start, end, freq="D"):
        amount = float(rng.gamma(4.0, 250.0))
        if spike and spike[0] <= day.date().isoformat() <= spike[1]:
            amount *= 10
        out.append({"date": day.date().isoformat(), "amount": round(amount, 2),
                    "category": categories[day.day % len(categories)]})
    return out


@pytest.fixture
def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
