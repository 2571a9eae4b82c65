"""`python -m services.spending.bench`: uncached forecast latency for histories of 3–120 months
(monthly totals and daily transactions), and the cached answer's latency.

Wall time and CPU time (this process plus the Stan child process) of `SpendingModel.predict`
for one instance (validation, history, forecast, answer shaping:
everything but HTTP) with a fresh history each call, so every call misses the cache.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from kit import ArtifactStore
from kit.bench import Stopwatch, time_calls
from kit.settings import REPO_ROOT
from services.spending.data import generate_users
from services.spending.model import SpendingModel
from services.spending.settings import SpendingSettings
from services.spending.train import TrainConfig, train

LENGTHS = (3, 6, 12, 18, 23, 24, 25, 36, 60, 90, 120)


def monthly_instance(months: int, rng: np.random.Generator) -> dict:
    periods = pd.period_range(end="2024-12", periods=months, freq="M")
    level = rng.uniform(20_000, 80_000)
    values = level * (1 + 0.15 * np.sin(2 * np.pi * periods.month / 12 + rng.uniform(0, 6)))
    values *= rng.lognormal(0, 0.08, months) * (1 + rng.uniform(0, 0.01)) ** np.arange(months)
    return {"history": [{"month": str(p), "amount": round(float(v), 2)}
                        for p, v in zip(periods, values, strict=True)], "horizon_months": 12}


def transactions_instance(months: int, rng: np.random.Generator) -> dict:
    days = pd.date_range(end="2024-12-31", periods=int(months * 30.44), freq="D")
    days = days[days >= (days[-1].to_period("M") - months + 1).start_time]
    amounts = rng.gamma(2.0, rng.uniform(500, 1500), len(days))
    return {"history": [{"date": d.date().isoformat(), "amount": round(float(a), 2)}
                        for d, a in zip(days, amounts, strict=True)], "horizon_months": 12}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Stan runs as a child process):
    what a forecast costs on an idle core, whatever the machine's load."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(model: SpendingModel, reps: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rows, everything = {}, Stopwatch(cpu_seconds)
    for kind, make in (("monthly", monthly_instance), ("transactions", transactions_instance)):
        for months in LENGTHS:
            stopwatch = Stopwatch(cpu_seconds)
            for _ in range(reps):
                instance = make(months, rng)
                with stopwatch:
                    [answer] = model.predict([instance])
                assert not answer["cached"]
            rows[f"{kind}/{months}"] = {**stopwatch.summary(), "method": answer["method"]}
            everything.wall_ms += stopwatch.wall_ms
            everything.cpu_ms += stopwatch.cpu_ms
    instance = monthly_instance(36, rng)
    cached = time_calls(lambda _: model.predict([instance]), 50, warmup=1, cpu_clock=cpu_seconds)
    return {"uncached": rows, "uncached_all": everything.summary(), "cached_36_months": cached}


def load_model(model_dir: Path) -> SpendingModel:
    settings = SpendingSettings(model_dir=model_dir)
    store = ArtifactStore(model_dir, "spending")
    if not store.versions():
        train(generate_users(6, 3, min_months=8, max_months=30), model_dir,
              TrainConfig(users=6), progress=False)
    model = SpendingModel(settings)
    model.load(store.load())
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--reps", type=int, default=20, help="forecasts per history length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir if ArtifactStore(args.model_dir, "spending").versions() \
            else Path(tmp)
        model = load_model(model_dir)
        load_before = os.getloadavg()
        result = run(model, args.reps, args.seed)
    result.update(model_version=model.version, load_average_before=load_before,
                  load_average_after=os.getloadavg(), cpus=os.cpu_count())
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
