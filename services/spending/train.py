"""`python -m services.spending.train`: fit the forecaster's global parameters on synthetic
households and write the artifact; `--eval m3` runs the M3 monthly benchmark instead.

What is fitted (on each user's last `holdout_months`, never seen by the fit):
- `weight_prophet_daily`: Prophet-daily's share beside Theta for transaction histories;
- `weight_prophet_monthly`: Prophet-monthly's share for monthly-total histories (two years+);
- `interval_scale`: the factor on the half-widths that brings holdout coverage to nominal.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from kit import Artifact, ArtifactStore
from kit.datafiles import DataError
from kit.gate import write_holdout
from kit.profile import attach_profile
from kit.training import Progress, TrainingRun, add_training_args
from services.spending import evaluation
from services.spending.data import M3_PATH, M3Series, SyntheticUser, generate_users, load_m3
from services.spending.forecaster import ForecastConfig
from services.spending.history import HistoryLimits, build_history
from services.spending.model import SpendingModel
from services.spending.own_data import user_histories
from services.spending.promotion import holdout_row
from services.spending.prophet_models import prophet_monthly
from services.spending.report import write_m3_report, write_training_report
from services.spending.schema import HistoryItem, forecast_input_schema
from services.spending.settings import SpendingSettings

WEIGHT_GRID = [round(float(w), 2) for w in np.arange(0.0, 1.01, 0.1)]
SCALE_GRID = [round(float(s), 2) for s in np.arange(0.5, 3.01, 0.1)]
LIBRARIES = ("prophet", "cmdstanpy", "statsmodels", "scipy", "pandas", "numpy", "holidays")


@dataclass(frozen=True)
class TrainConfig:
    users: int = 60
    seed: int = 7
    holdout_months: int = 3
    width: float = 0.8
    min_months: int = 6
    max_months: int = 48


def _split(user: SyntheticUser, holdout: int):
    """The user's history up to `holdout` months before the end, and those months' totals
    (transactions or monthly totals alike)."""
    items = [HistoryItem(**t) for t in user.transactions]
    limits = HistoryLimits(max_points=10**6)
    full = build_history(items, limits)
    last_kept = full.monthly.index[-holdout - 1]
    if items[0].date is None:
        train = build_history([i for i in items if pd.Period(i.month, freq="M") <= last_kept],
                              limits)
    else:
        cutoff = last_kept.end_time.date()
        train = build_history([i for i in items if i.date <= cutoff], limits, as_of=cutoff)
    return train, full.monthly.to_numpy()[-holdout:]


def collect_cases(users: list[SyntheticUser], config: ForecastConfig, train_cfg: TrainConfig,
                  run: TrainingRun) -> dict[str, list[evaluation.SeriesCase]]:
    """Each user's holdout case on the path the service would take: `monthly` (Prophet on
    monthly totals, two years on), `transactions` (Prophet on daily totals, a year on) or
    `short` (Theta alone)."""
    cases: dict[str, list[evaluation.SeriesCase]] = {"transactions": [], "monthly": [],
                                                     "short": []}
    for user in run.bar(users, "holdout forecasts", unit="user"):
        history, actual = _split(user, train_cfg.holdout_months)
        daily = history.daily if history.daily is not None else pd.Series(dtype=float)
        if history.months >= config.prophet_min_months:
            case = evaluation.daily_case(daily.iloc[:0], history.monthly, actual, config,
                                         train_cfg.width)
            case.prophet = prophet_monthly(history.monthly, len(actual), train_cfg.width,
                                           config.prophet)
            cases["monthly"].append(case)
        else:
            case = evaluation.daily_case(daily, history.monthly, actual, config,
                                         train_cfg.width)
            cases["transactions" if case.prophet is not None else "short"].append(case)
    return cases


def fit_parameters(cases: dict[str, list], config: ForecastConfig, width: float):
    def weight(group, default):
        return evaluation.best_weight(group, config, WEIGHT_GRID) if len(group) >= 3 else default

    weight_daily = weight(cases["transactions"], config.weight_prophet_daily)
    weight_monthly = weight(cases["monthly"], config.weight_prophet_monthly)
    groups = [(cases["transactions"], weight_daily), (cases["monthly"], weight_monthly),
              (cases["short"], 0.0)]
    scale = evaluation.best_scale(groups, config, width, SCALE_GRID)
    return config.with_(weight_prophet_daily=weight_daily, weight_prophet_monthly=weight_monthly,
                        interval_scale=scale)


def holdout_metrics(cases: dict[str, list], fitted: ForecastConfig, width: float) -> dict:
    weights = {"transactions": fitted.weight_prophet_daily,
               "monthly": fitted.weight_prophet_monthly, "short": 0.0}

    def table(group, weight):
        if not group:
            return {}
        return {
            "combination_smape": evaluation.mean_smape(group, weight, fitted),
            "theta_smape": evaluation.mean_smape(group, 0.0, fitted),
            "prophet_smape": evaluation.mean_smape(group, 1.0, fitted),
            "seasonal_naive_smape": float(np.mean(
                [evaluation.smape(c.actual, c.baselines["seasonal_naive"]) for c in group])),
            "coverage_raw": evaluation.coverage(group, weight, fitted, 1.0),
            "coverage": evaluation.coverage(group, weight, fitted, fitted.interval_scale),
            "series": len(group),
        }

    return {"nominal_coverage": width,
            **{path: table(group, weights[path]) for path, group in cases.items()}}


PROFILE_HORIZON = 3
PROFILE_USERS = 30  # each is one served forecast (a Prophet fit): ~0.3 s apiece


def data_hash(users: list[SyntheticUser]) -> str:
    blob = orjson.dumps([[u.user_id, u.transactions] for u in users])
    return hashlib.sha256(blob).hexdigest()


def train(users: list[SyntheticUser], model_dir: Path | str, train_cfg: TrainConfig = TrainConfig(),
          config: ForecastConfig | None = None, progress: bool = True,
          data: str | None = None) -> Artifact:
    """Fit the global parameters on the users' holdouts and save the artifact; `data` names a
    user's own file (default: the synthetic households)."""
    config = config or ForecastConfig()
    own, data = data, data or f"synthetic households(users={len(users)}, seed={train_cfg.seed})"
    with TrainingRun("spending", model_dir, libraries=LIBRARIES, progress=progress) as run:
        cases = collect_cases(users, config, train_cfg, run)
        fitted = fit_parameters(cases, config, train_cfg.width)
        (run.staging / "forecast_config.json").write_bytes(
            orjson.dumps(fitted.to_dict(), option=orjson.OPT_INDENT_2))
        run.record(
            data=data,
            data_sha256=data_hash(users),
            parameters={"forecast": fitted.to_dict(), "training": {
                "users": len(users), "seed": train_cfg.seed,
                "holdout_months": train_cfg.holdout_months,
                "weight_grid": WEIGHT_GRID, "scale_grid": SCALE_GRID}},
            metrics=holdout_metrics(cases, fitted, train_cfg.width),
            input_schema=forecast_input_schema(),
            # The rows the promotion gate scores this version and production on (kit/gate.py).
            holdout_file=write_holdout(
                run.staging, (holdout_row(u.user_id, *_split(u, train_cfg.holdout_months),
                                          config) for u in users),
                what="each household's history up to its held-out months, and their totals"),
        )
        # The reference profile: each household's request through the model being saved.
        attach_profile(run, SpendingModel(SpendingSettings()), profile_instances(users))
        write_training_report(run, users, fitted, train_cfg, own=own)
        return run.save()


def profile_instances(users: list[SyntheticUser], count: int | None = PROFILE_USERS
                      ) -> list[dict]:
    """One forecast request per household (the first `count`): its whole history, the next
    quarter."""
    return [{"history": u.transactions, "horizon_months": PROFILE_HORIZON}
            for u in users[:count]]


def latest_config(model_dir: Path) -> tuple[ForecastConfig, str]:
    store = ArtifactStore(model_dir, "spending")
    if not store.versions():
        return ForecastConfig(), "defaults (no trained artifact)"
    artifact = store.load()
    return ForecastConfig.from_dict(artifact.manifest["parameters"]["forecast"]), artifact.version


def validation_split(series: M3Series) -> M3Series:
    """The training part's own last `len(test)` points as a validation target (no test data)."""
    h = len(series.test)
    return replace(series, train=series.train[:-h], test=series.train[-h:])


def evaluate_m3(path: Path, model_dir: Path, out_dir: Path, sample: int, seed: int,
                progress: bool = True) -> dict:
    """sMAPE on the M3 monthly test (last 18 points) for the combination, its members, Naive2
    and seasonal naive, all computed here by the same code. The combination's Prophet weight
    is chosen on each series' validation window (the 18 points before the test), because the
    artifact's weight was fitted on Indian household spending, not on M3's industries."""
    config, source = latest_config(model_dir)
    bars = Progress(progress)
    series = load_m3(path)
    if sample and sample < len(series):
        rng = np.random.default_rng(seed)
        series = [series[i] for i in sorted(rng.choice(len(series), sample, replace=False))]
    started = time.perf_counter()
    validation = [evaluation.m3_case(validation_split(s), config) for s in
                  bars.bar(series, "M3 validation", unit="series")]
    weight = evaluation.best_weight(validation, config, WEIGHT_GRID)
    cases = [evaluation.m3_case(s, config) for s in
             bars.bar(series, "M3 test", unit="series")]
    seconds = time.perf_counter() - started
    result = {
        "series": len(cases), "sample_seed": seed if sample else None, "config_from": source,
        "weight_prophet": weight,
        "validation_smape_by_weight": {w: evaluation.mean_smape(validation, w, config)
                                       for w in WEIGHT_GRID},
        "smape": evaluation.m3_table(cases, config, weight),
        "smape_by_weight": {w: evaluation.mean_smape(cases, w, config) for w in WEIGHT_GRID},
        "published": evaluation.M3_PUBLISHED,
        "coverage_80": evaluation.coverage(cases, weight, config, config.interval_scale),
        "seconds": round(seconds, 1), "ms_per_series": round(500 * seconds / len(cases), 1),
    }
    write_m3_report(out_dir, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(parser, data=None, data_help="your own transactions or monthly totals "
                                                   "CSV (docs/own-data.md); with --eval m3, "
                                                   "the M3 monthly long CSV",
                      seed=TrainConfig.seed, quick_help="small and fast (smoke runs): ≤ 12 "
                                                        "households")
    parser.add_argument("--users", type=int, default=TrainConfig.users)
    parser.add_argument("--eval", choices=["m3"], help="run a benchmark instead of training")
    parser.add_argument("--sample", type=int, default=0,
                        help="score a fixed-seed sample of this many M3 series (0: all)")
    args = parser.parse_args(argv)
    progress = not args.no_progress
    if args.eval == "m3":
        data = Path(args.data or M3_PATH)
        if not data.is_file():
            parser.error(f"M3 data not found at {data} (see ../shared/data/m3_monthly)")
        out_dir = args.model_dir / "spending-eval"
        result = evaluate_m3(data, args.model_dir, out_dir, args.sample, args.seed, progress)
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
        print(f"report: {out_dir / 'm3.md'}")
        return 0
    train_cfg = TrainConfig(users=min(args.users, 12) if args.quick else args.users,
                            seed=args.seed)
    name = None
    if args.data:  # the user's own households (--quick: the first 12)
        try:
            kind, users = user_histories(Path(args.data))
        except DataError as exc:
            print(f"spending train: {exc}", file=sys.stderr)
            return 2
        users = users[:train_cfg.users] if args.quick else users
        name = f"own:{Path(args.data).name} ({kind})"
        train_cfg = replace(train_cfg, users=len(users))
    else:
        users = generate_users(train_cfg.users, train_cfg.seed, min_months=train_cfg.min_months,
                               max_months=train_cfg.max_months)
    artifact = train(users, args.model_dir, train_cfg, progress=progress, data=name)
    print(f"spending {artifact.version} -> {artifact.path}")
    for path, m in artifact.manifest["metrics"].items():
        if isinstance(m, dict) and m:
            print(f"  {path}: holdout sMAPE {m['combination_smape']:.2f} (theta "
                  f"{m['theta_smape']:.2f}, prophet {m['prophet_smape']:.2f}), 80% interval "
                  f"coverage {m['coverage']:.2f} over {m['series']} series")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
