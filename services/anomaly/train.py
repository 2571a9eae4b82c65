"""`python -m services.anomaly.train`: replay transactions into profiles, fit an Isolation Forest,
pick its threshold from a target false-positive rate, export to ONNX, and write an artifact.

Time is split as the handbook does: profiles warm up on the earliest days, the forest is fitted
on a training window, labels (feedback) arrive `delay` days later, and the test window follows.
Which features the forest sees is chosen by forward selection on an earlier, disjoint
fit/validation pair of windows, using labels only where they would have been known.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score

from kit.artifacts import Artifact, sha256_bytes
from kit.datafiles import DataError
from kit.gate import write_holdout
from kit.profile import attach_profile
from kit.training import TrainingRun, add_training_args, check_parity
from services.anomaly.data import HANDBOOK_CSV, generate_transactions, load_handbook
from services.anomaly.evaluation import holdout_metrics, unsupervised_metrics
from services.anomaly.export import export_onnx
from services.anomaly.features import (
    FEATURE_NAMES,
    FRAUD_DELAY_DAYS,
    MIN_HISTORY,
    AmountPrior,
)
from services.anomaly.forest import ForestScorer
from services.anomaly.model import AnomalyModel
from services.anomaly.own_data import read_transactions
from services.anomaly.promotion import HOLDOUT_FILE, as_instance, stream_rows
from services.anomaly.replay import replay_features
from services.anomaly.report import write_report
from services.anomaly.schema import AnomalyInstance
from services.anomaly.settings import AnomalySettings

QUANTILE_LEVELS = np.linspace(0.0, 1.0, 201)
# Without fraud labels nothing can select features, and the merchant-risk ones stay zero.
UNSUPERVISED_FEATURES = [f for f in FEATURE_NAMES if not f.startswith("merchant_fraud")]
ONNX_TOLERANCE = 1e-4
PROFILE_ROWS = 5000  # test-window transactions in the reference profile
LIBRARIES = ("scikit-learn", "skl2onnx", "onnxruntime", "numpy", "pandas")


@dataclass
class TrainConfig:
    n_estimators: int = 100
    max_samples: int = 256
    target_fpr: float = 0.01
    train_days: int = 7
    delay_days: int = FRAUD_DELAY_DAYS
    test_days: int = 7
    max_history: int = 500
    select_features: bool = True
    max_model_features: int = 8
    seed: int = 0


@dataclass
class Windows:
    """Boolean row masks over the frame, in time order."""

    select_fit: np.ndarray
    select_val: np.ndarray
    fit: np.ndarray
    test: np.ndarray


def run_config(quick: bool = False, **options) -> TrainConfig:
    """The configuration `main` trains with: `--quick` caps trees, windows and features."""
    cfg = TrainConfig(**options)
    if quick:
        cfg = replace(cfg, n_estimators=min(cfg.n_estimators, 50), train_days=4, test_days=4,
                      max_model_features=3)
    return cfg


def time_windows(df: pd.DataFrame, cfg: TrainConfig) -> Windows:
    """Test = last `test_days`; fit = `train_days` ending `delay_days` before it; the selection
    pair repeats that layout one (train + delay) span earlier."""
    day = df["timestamp"].dt.normalize()
    last = day.max()
    test_start = last - pd.Timedelta(days=cfg.test_days - 1)
    fit_end = test_start - pd.Timedelta(days=cfg.delay_days + 1)
    fit_start = fit_end - pd.Timedelta(days=cfg.train_days - 1)
    sel_end = fit_start - pd.Timedelta(days=cfg.delay_days + 1)
    sel_start = sel_end - pd.Timedelta(days=cfg.train_days - 1)
    if sel_start <= day.min():
        raise ValueError(f"need more days of data: the windows start on {sel_start.date()} but "
                         f"the data starts on {day.min().date()} (profiles need a warm-up)")
    return Windows(
        select_fit=((day >= sel_start) & (day <= sel_end)).to_numpy(),
        select_val=((day >= fit_start) & (day <= fit_end)).to_numpy(),
        fit=((day >= fit_start) & (day <= fit_end)).to_numpy(),
        test=(day >= test_start).to_numpy(),
    )


def fit_forest(X: np.ndarray, cfg: TrainConfig, n_estimators: int | None = None):
    return IsolationForest(n_estimators=n_estimators or cfg.n_estimators,
                           max_samples=min(cfg.max_samples, len(X)),
                           random_state=cfg.seed).fit(X)


def select_features(X: np.ndarray, y: np.ndarray, w: Windows, cfg: TrainConfig,
                    run: TrainingRun) -> tuple[list[str], list[dict]]:
    """Greedy forward selection by validation average precision (smaller forests, sampled
    genuine rows re-weighted so the precision matches the full week)."""
    rng = np.random.default_rng(cfg.seed)
    val = np.flatnonzero(w.select_val)
    genuine, fraud = val[y[val] == 0], val[y[val] == 1]
    if len(fraud) == 0:
        raise ValueError("the validation window has no labelled fraud to select features with")
    keep = rng.choice(genuine, size=min(len(genuine), 15_000), replace=False)
    rows = np.concatenate([keep, fraud])
    weight = np.where(y[rows] == 1, 1.0, len(genuine) / len(keep))
    fit_X, val_X = X[w.select_fit], X[rows]
    varies = fit_X.std(axis=0) > 0
    candidates = [j for j in range(len(FEATURE_NAMES)) if varies[j]]
    chosen: list[int] = []
    best, trail = 0.0, []
    while len(chosen) < min(cfg.max_model_features, len(candidates)):
        scored = []
        for j in (j for j in candidates if j not in chosen):
            cols = [*chosen, j]
            forest = fit_forest(fit_X[:, cols], cfg, n_estimators=50)
            ap = average_precision_score(y[rows], -forest.score_samples(val_X[:, cols]),
                                         sample_weight=weight)
            scored.append((ap, j))
        ap, j = max(scored)
        if ap < best + 0.005:
            break
        chosen.append(j)
        best = ap
        trail.append({"feature": FEATURE_NAMES[j], "validation_ap": round(float(ap), 4)})
        run.say(f"+ {FEATURE_NAMES[j]:<26} validation AP {ap:.4f}")
    return [FEATURE_NAMES[j] for j in chosen], trail


def apply_feedback(df: pd.DataFrame, entries: list[dict]) -> tuple[pd.DataFrame, int]:
    """Labels from the service's feedback log override the data set's; the latest entry per
    transaction wins. Returns the relabelled frame and how many rows feedback touched."""
    latest = {e["transaction_id"]: e["label"] == "fraud"
              for e in sorted(entries, key=lambda e: e["reported_at"])}
    hit = df["tx_id"].isin(latest.keys())
    out = df.copy()
    out.loc[hit, "fraud"] = out.loc[hit, "tx_id"].map(latest).astype(int)
    return out, int(hit.sum())


def feedback_log(redis_url: str, days: int) -> list[dict]:
    """The feedback the service stored (in Redis) over the last `days` days."""
    from kit.stores import record_store
    from services.anomaly.profiles import ProfileStore

    log = ProfileStore(record_store(redis_url, "anomaly"),
                       record_store(redis_url, "anomaly-feedback", 10_000_000))
    today = pd.Timestamp.now(tz="UTC").normalize()
    return [entry for k in range(days)
            for entry in log.feedback((today - pd.Timedelta(days=k)).strftime("%Y-%m-%d"))]


def amount_prior(df: pd.DataFrame) -> AmountPrior:
    a = df["amount"]
    return AmountPrior(float(a.median()), float(a.mean()), float(a.std()))


def train(df: pd.DataFrame, model_dir: Path, cfg: TrainConfig, data_name: str,
          data_sha256: str, progress: bool = True, labelled: bool = True) -> Artifact:
    """Everything from a transaction frame to a saved, verified artifact. Unlabelled data
    (`labelled=False`, its fraud column all 0) is fitted on every feature but the merchant-risk
    ones, its threshold set on the whole fit window, and evaluated without labels."""
    cfg = cfg if labelled else replace(cfg, select_features=False)
    with TrainingRun("anomaly", model_dir, libraries=LIBRARIES, progress=progress) as run:
        w = time_windows(df, cfg)
        prior = amount_prior(df[~w.test])
        X = replay_features(df, prior, cfg.max_history, progress=progress)
        y = df["fraud"].to_numpy()
        if not labelled:
            model_features, trail = list(UNSUPERVISED_FEATURES), []
        elif cfg.select_features:
            run.say("selecting features on the earlier fit/validation windows")
            model_features, trail = select_features(X, y, w, cfg, run)
        else:
            model_features, trail = list(FEATURE_NAMES), []
        cols = [FEATURE_NAMES.index(f) for f in model_features]
        forest = fit_forest(X[w.fit][:, cols], cfg)
        fit_scores = -forest.score_samples(X[w.fit][:, cols])
        threshold = float(np.quantile(fit_scores[y[w.fit] == 0], 1.0 - cfg.target_fpr))

        export_onnx(forest, len(cols), run.staging / "model.onnx")
        test_X = X[w.test]
        onnx_scores = ForestScorer(run.staging / "model.onnx").score(test_X[:, cols])
        parity = check_parity("ONNX", onnx_scores, -forest.score_samples(test_X[:, cols]),
                              ONNX_TOLERANCE)
        if labelled:
            metrics = holdout_metrics(df[w.test], onnx_scores, threshold)
            baseline_forest = fit_forest(X[w.fit], cfg)
            baseline = holdout_metrics(df[w.test], -baseline_forest.score_samples(test_X),
                                       threshold=1.0)
        else:
            metrics, baseline = unsupervised_metrics(df[w.test], onnx_scores, threshold), None

        reference = {
            "model_features": model_features,
            "amount_prior": prior.as_dict(),
            "feature_quantile_levels": QUANTILE_LEVELS.round(4).tolist(),
            "feature_quantiles": {name: np.quantile(X[w.fit][:, i], QUANTILE_LEVELS).tolist()
                                  for i, name in enumerate(FEATURE_NAMES)},
        }
        (run.staging / "reference.json").write_text(json.dumps(reference))
        run.record(
            data=data_name,
            data_sha256=data_sha256,
            parameters={**asdict(cfg), "min_history": MIN_HISTORY},
            metrics={"holdout": metrics, "all_features_baseline": baseline,
                     "onnx_max_abs_diff": parity},
            input_schema=AnomalyInstance.model_json_schema(),
            evaluation="supervised" if labelled else "unsupervised (no fraud labels)",
            threshold={"score": threshold, "target_false_positive_rate": cfg.target_fpr,
                       "set_on": "genuine transactions of the fit window" if labelled else
                       "every transaction of the fit window (no labels: assumed genuine)"},
            windows={k: _span(df, getattr(w, k)) for k in ("select_fit", "select_val", "fit",
                                                           "test")},
            features={"all": list(FEATURE_NAMES), "model": model_features, "selection": trail},
            # The stream the promotion gate replays through this version and production, its
            # test window judged (kit/gate.py, services/anomaly/promotion.py).
            # Unlabelled data has no fraud to judge: the gate uses its golden set alone.
            **({"holdout_file": write_holdout(
                run.staging, stream_rows(df, w.test), cap=None,
                file=HOLDOUT_FILE, what="the transaction stream in time order; `scored` marks "
                                        "the test window")} if labelled else {}),
        )
        # The reference profile: the test window's transactions and their served scores.
        test_rows = stream_rows(df[w.test], np.ones(int(w.test.sum()), dtype=bool),
                                cap=int(w.test.sum()))
        sample = np.unique(np.linspace(0, len(test_rows) - 1, PROFILE_ROWS).astype(int))
        attach_profile(run, AnomalyModel(AnomalySettings()),
                       [as_instance(test_rows[i]) for i in sample],
                       [{"score": round(float(onnx_scores[i]), 4),
                         "is_anomaly": bool(onnx_scores[i] >= threshold)} for i in sample])
        write_report(run, onnx_scores, df.loc[w.test, "fraud"].to_numpy(), labelled)
        return run.save()


def _span(df: pd.DataFrame, mask: np.ndarray) -> dict:
    ts = df.loc[mask, "timestamp"]
    return {"from": str(ts.min()), "to": str(ts.max()), "rows": int(mask.sum())}


def frame_sha256(df: pd.DataFrame) -> str:
    return sha256_bytes(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_training_args(parser, data_help="'generated' (default, seeded), 'handbook', a "
                                        "handbook-style CSV, or your own transactions CSV "
                                        "(docs/own-data.md)", seed=TrainConfig.seed,
                      quick_help="small and fast (smoke runs): ≤ 150 users over ≤ 30 days, "
                                 "4-day windows, ≤ 50 trees, ≤ 3 features")
    parser.add_argument("--users", type=int, default=600, help="generated data: users")
    parser.add_argument("--days", type=int, default=45, help="generated data: days")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--target-fpr", type=float, default=0.01)
    parser.add_argument("--no-select", action="store_true", help="fit on all features")
    parser.add_argument("--feedback-redis", default=None,
                        help="Redis URL of a running service: its feedback overrides labels")
    parser.add_argument("--feedback-days", type=int, default=90)
    args = parser.parse_args(argv)
    cfg = run_config(args.quick, n_estimators=args.trees, target_fpr=args.target_fpr,
                     select_features=not args.no_select, seed=args.seed)
    users, days = args.users, args.days
    if args.quick:
        users, days = min(users, 150), min(days, 30)
    labelled = True
    if args.data == "generated":
        df = generate_transactions(n_users=users, days=days)
        name = f"generated(users={users}, days={days}, seed=7)"
    else:
        path = HANDBOOK_CSV if args.data == "handbook" else Path(args.data)
        if not path.is_file():
            raise SystemExit(f"no data at {path}")
        if is_handbook(path):
            df, name = load_handbook(path), f"handbook:{path.name}"
        else:
            try:
                own = read_transactions(path, cfg)
            except DataError as exc:
                print(f"anomaly train: {exc}", file=sys.stderr)
                return 2
            df, name, labelled = own.frame, f"own:{own.name}", own.labelled
    if args.feedback_redis:
        df, touched = apply_feedback(df, feedback_log(args.feedback_redis, args.feedback_days))
        print(f"feedback relabelled {touched} transactions")
        name += f" + feedback({touched})"
    print(f"{len(df):,} transactions, " + (f"{df['fraud'].mean():.2%} fraud" if labelled
                                            else "no fraud labels") + f" ({name})")
    artifact = train(df, args.model_dir, cfg, name, frame_sha256(df),
                     progress=not args.no_progress, labelled=labelled)
    holdout = artifact.manifest["metrics"]["holdout"]
    print(f"anomaly {artifact.version} -> {artifact.path}")
    if labelled:
        print(f"holdout AUC-ROC {holdout['auc_roc']}  AP {holdout['average_precision']}  "
              f"card precision@100 {holdout['card_precision_at_100_mean']}")
    else:
        print(f"unsupervised (no fraud labels): test-window alert rate "
              f"{holdout['flagged_rate']:.2%} at the threshold")
    return 0


def is_handbook(path: Path) -> bool:
    """The handbook's simulation names its columns TX_DATETIME, TX_AMOUNT, ...; an own-data
    file has `user,time,amount,merchant`."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return "TX_DATETIME" in handle.readline()


if __name__ == "__main__":
    raise SystemExit(main())
