"""`python -m services.credit.train`: data → tuned XGBoost and a regularised logistic regression,
compared by CV on the train split → the winner, Platt-calibrated → artifact + report.

    python -m services.credit.train                          # the shipped generator (default)
    python -m services.credit.train --data german_credit     # UCI German Credit from ../shared
    python -m services.credit.train --data my.csv --target defaulted
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ParameterGrid, StratifiedKFold, train_test_split

from kit.artifacts import Artifact
from kit.calibration import calibration_summary
from kit.gate import write_holdout
from kit.profile import attach_profile
from kit.training import TrainingRun, add_training_args, check_parity
from services.credit import evaluation
from services.credit.data import Dataset, generate_applications, load_csv, load_german
from services.credit.explain import tables_from_booster
from services.credit.linear import LINEAR_NPZ, LinearScorer
from services.credit.model import CreditModel, logit, sigmoid
from services.credit.promotion import holdout_rows
from services.credit.report import write_report
from services.credit.settings import CreditSettings

SEARCH_SPACE = {
    "max_depth": [2, 3],
    "learning_rate": [0.03, 0.08],
    "n_estimators": [200, 400],
    "min_child_weight": [2, 5],
    "subsample": [0.6, 0.8],
    "colsample_bytree": [0.3, 0.6],
    "gamma": [0.0, 0.5],
}
# The logistic baseline's L2 strengths (scikit-learn's C: smaller is stronger), chosen like the
# trees' parameters, by CV AUC on the train split.
LOGISTIC_C = (0.001, 0.01, 0.1, 1.0, 10.0)
ALGORITHMS = ("xgboost", "logistic")
ONNX_TOLERANCE = 1e-5
# The holdout split's seed, apart from the training seed: versions trained on the same data with
# different seeds hold out the same rows, so the promotion gate never judges a candidate on rows
# production trained on (kit/gate.py). 42 was the default seed, so default runs are unchanged.
HOLDOUT_SEED = 42
PROFILE_ROWS = 5000  # holdout rows in the reference profile (about a second)
LIBRARIES = ("xgboost-cpu", "xgboost", "onnxruntime", "onnxmltools", "scikit-learn", "numpy")


@dataclass
class TrainConfig:
    folds: int = 5  # for the reported CV metrics, calibration and threshold
    search_folds: int = 3  # cheaper CV while comparing candidates
    search_budget: int = 8
    holdout: float = 0.2
    seed: int = 42
    quick: bool = False
    max_trees: int | None = None  # caps n_estimators (quick runs)
    algorithm: str = "best"  # the one served: "best" (by CV AUC), "xgboost" or "logistic"


def load_dataset(data: str, target: str | None, rows: int) -> Dataset:
    if data == "generated":
        return generate_applications(n=rows)
    if data == "german_credit":
        return load_german()
    path = Path(data)
    if not path.is_file():
        raise SystemExit(f"--data {data}: no such file (or use 'generated' / 'german_credit')")
    if not target:
        raise SystemExit("--target COL is required with a CSV")
    return load_csv(path, target)


def candidates(budget: int, seed: int, max_trees: int | None = None) -> list[dict]:
    grid = list(ParameterGrid(SEARCH_SPACE))
    rng = np.random.default_rng(seed)
    picks = [grid[i] for i in sorted(rng.choice(len(grid), size=min(budget, len(grid)),
                                                replace=False))]
    if max_trees:
        picks = [{**p, "n_estimators": min(p["n_estimators"], max_trees)} for p in picks]
    return picks


def make_classifier(params: dict, seed: int) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(**params, tree_method="hist", n_jobs=2, random_state=seed,
                             eval_metric="auc")


def fit_xgboost(params: dict, seed: int):
    """A fitter: (x, y) → a fitted model (`raw_probability` reads either kind)."""
    return lambda x, y: make_classifier(params, seed).fit(x, y)


def fit_linear(x: np.ndarray, y: np.ndarray, c: float) -> LinearScorer:
    """StandardScaler + L2 logistic regression, kept as the served arrays."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x), y)
    return LinearScorer(scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64),
                        clf.coef_[0].astype(np.float64), float(clf.intercept_[0]))


def fit_logistic(c: float):
    return lambda x, y: fit_linear(x, y, c)


def raw_probability(model: xgb.XGBClassifier | LinearScorer, rows: np.ndarray) -> np.ndarray:
    if isinstance(model, LinearScorer):
        return model.raw_probability(rows)
    return model.predict_proba(rows)[:, 1]


def out_of_fold(fit, x: np.ndarray, y: np.ndarray, cfg: TrainConfig,
                folds: int | None = None) -> np.ndarray:
    """Out-of-fold probabilities: the honest inputs to CV metrics, calibration and threshold.
    `fit` is a params dict (XGBoost) or a fitter (`fit_xgboost`, `fit_logistic`)."""
    if isinstance(fit, dict):
        fit = fit_xgboost(fit, cfg.seed)
    oof = np.zeros(len(y))
    splitter = StratifiedKFold(folds or cfg.folds, shuffle=True, random_state=cfg.seed)
    for train_idx, test_idx in splitter.split(x, y):
        oof[test_idx] = raw_probability(fit(x[train_idx], y[train_idx]), x[test_idx])
    return oof


def platt(oof: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept on the logit of out-of-fold probabilities (Platt scaling)."""
    model = LogisticRegression(C=1e6).fit(logit(oof)[:, None], y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def calibrated(p: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    return sigmoid(slope * logit(p) + intercept)


def fold_scores(y: np.ndarray, oof: np.ndarray, cfg: TrainConfig,
                folds: int | None = None) -> dict[str, dict]:
    splitter = StratifiedKFold(folds or cfg.folds, shuffle=True, random_state=cfg.seed)
    per_fold = [evaluation.scores(y[idx], oof[idx]) for _, idx in splitter.split(oof, y)]
    return {k: {"mean": float(np.mean([f[k] for f in per_fold])),
                "std": float(np.std([f[k] for f in per_fold]))} for k in per_fold[0]}


def base_margin(booster: xgb.Booster) -> float:
    """The model's starting log-odds (XGBoost stores base_score as a probability)."""
    config = json.loads(booster.save_config())
    raw = config["learner"]["learner_model_param"]["base_score"]
    base = float(re.findall(r"[-+0-9.eE]+", raw)[0])
    return float(logit(np.array([base]))[0])


def to_onnx(clf: xgb.XGBClassifier, n_features: int, path: Path) -> None:
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    onx = convert_xgboost(clf, initial_types=[("input", FloatTensorType([None, n_features]))],
                          target_opset=15)
    path.write_bytes(onx.SerializeToString())


def onnx_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = session.run(None, {session.get_inputs()[0].name: x})[1]
    if isinstance(probs, list):
        return np.array([row[1] for row in probs])
    return np.asarray(probs)[:, 1]


def train(dataset: Dataset, model_dir: Path, cfg: TrainConfig, progress: bool = True
          ) -> Artifact:
    """Run the whole pipeline and save a new artifact version."""
    with TrainingRun("credit", model_dir, libraries=LIBRARIES, progress=progress) as run:
        spec = dataset.spec
        x_all = spec.encode(dataset.frame.to_dict("records"))
        y_all = dataset.target
        idx_train, idx_hold = train_test_split(
            np.arange(len(y_all)), test_size=cfg.holdout, stratify=y_all,
            random_state=HOLDOUT_SEED)
        x, y = x_all[idx_train], y_all[idx_train]
        x_hold, y_hold = x_all[idx_hold], y_all[idx_hold]
        run.say(f"{dataset.name}: {len(y)} train / {len(y_hold)} holdout rows, "
                f"{len(spec.columns)} columns, default rate {y_all.mean():.3f}")

        best_params, best_auc = None, -1.0
        tried = []
        for params in run.bar(candidates(cfg.search_budget, cfg.seed, cfg.max_trees), "search"):
            oof = out_of_fold(params, x, y, cfg, cfg.search_folds)
            auc = fold_scores(y, oof, cfg, cfg.search_folds)["auc"]["mean"]
            tried.append({**params, "search_cv_auc": round(auc, 4)})
            if auc > best_auc:
                best_params, best_auc = params, auc
        run.say(f"best {cfg.search_folds}-fold AUC {best_auc:.4f} with {best_params}")
        logistic_tried = []
        for c in LOGISTIC_C:
            oof = out_of_fold(fit_logistic(c), x, y, cfg, cfg.search_folds)
            logistic_tried.append({"c": c, "search_cv_auc": round(
                fold_scores(y, oof, cfg, cfg.search_folds)["auc"]["mean"], 4)})
        best_c = max(logistic_tried, key=lambda t: t["search_cv_auc"])["c"]
        run.say(f"logistic regression: best {cfg.search_folds}-fold AUC "
                f"{max(t['search_cv_auc'] for t in logistic_tried):.4f} with C={best_c}")

        # Both finalists on the same folds and the same holdout; the winner by CV AUC.
        fitters = {"xgboost": fit_xgboost(best_params, cfg.seed),
                   "logistic": fit_logistic(best_c)}
        compared, oofs, holdouts, fitted = {}, {}, {}, {}
        for algorithm, fit in fitters.items():
            oofs[algorithm] = out_of_fold(fit, x, y, cfg)
            slope_a, intercept_a = platt(oofs[algorithm], y)
            fitted[algorithm] = fit(x, y)
            raw_hold = holdouts[algorithm] = raw_probability(fitted[algorithm], x_hold)
            compared[algorithm] = {
                "parameters": best_params if algorithm == "xgboost" else {"c": best_c},
                "cv": fold_scores(y, oofs[algorithm], cfg),
                "holdout": evaluation.scores(y_hold, calibrated(raw_hold, slope_a, intercept_a)),
                "holdout_uncalibrated": evaluation.scores(y_hold, raw_hold),
            }
        best = max(ALGORITHMS, key=lambda a: compared[a]["cv"]["auc"]["mean"])
        algorithm = best if cfg.algorithm == "best" else cfg.algorithm
        runner_up = next(a for a in ALGORITHMS if a != best)
        choice = {"by": f"{cfg.folds}-fold CV AUC on the train split", "winner": best,
                  "served": algorithm, "runner_up": runner_up, "asked": cfg.algorithm,
                  "cv_auc_margin": compared[best]["cv"]["auc"]["mean"]
                  - compared[runner_up]["cv"]["auc"]["mean"],
                  "holdout_auc_margin": compared[best]["holdout"]["auc"]
                  - compared[runner_up]["holdout"]["auc"]}
        run.say(f"{best} wins by CV AUC {choice['cv_auc_margin']:+.4f} over {runner_up} "
                f"(holdout {choice['holdout_auc_margin']:+.4f}); serving {algorithm}")

        best_oof = oofs[algorithm]
        slope, intercept = platt(best_oof, y)
        oof_cal = calibrated(best_oof, slope, intercept)
        high_from = evaluation.cost_optimal_threshold(y, oof_cal, dataset.cost_fn,
                                                      dataset.cost_fp)
        medium_from = high_from / 2

        p_hold_raw = holdouts[algorithm]
        p_hold = calibrated(p_hold_raw, slope, intercept)
        decline = p_hold >= high_from
        cost = dataset.cost_fn * np.sum((y_hold == 1) & ~decline) + dataset.cost_fp * np.sum(
            (y_hold == 0) & decline)

        fairness = {}
        for attr, values in dataset.sensitive.items():
            groups = evaluation.age_groups(values[idx_hold]) if attr == "age" else values[idx_hold]
            fairness[attr] = evaluation.fairness(y_hold, ~decline, groups)

        save = save_trees if algorithm == "xgboost" else save_logistic
        checks = save(run, fitted[algorithm], x_hold, p_hold_raw)

        run.record(
            data=dataset.name,
            data_sha256=dataset.sha256,
            parameters=compared[algorithm]["parameters"],
            metrics={
                "n_train": len(y), "n_holdout": len(y_hold),
                "cv": compared[algorithm]["cv"],
                "cv_all_rows": fold_scores(y_all, out_of_fold(fitters[algorithm], x_all, y_all,
                                                              cfg), cfg),
                "cv_calibrated_brier": float(np.mean((oof_cal - y) ** 2)),
                "holdout": evaluation.scores(y_hold, p_hold),
                "holdout_uncalibrated": compared[algorithm]["holdout_uncalibrated"],
                "holdout_cost_per_applicant": float(cost / len(y_hold)),
                "approve_all_cost_per_applicant": float(dataset.cost_fn * y_hold.mean()),
                **checks,
            },
            input_schema=spec.to_dict(),
            algorithm=algorithm,
            candidates=compared,
            choice=choice,
            search=tried,
            logistic_search=logistic_tried,
            calibration={"method": "platt", "slope": slope, "intercept": intercept,
                         "fitted_on": f"{cfg.folds}-fold out-of-fold probabilities",
                         "holdout_before": calibration_summary(p_hold_raw, y_hold),
                         "holdout_after": calibration_summary(p_hold, y_hold)},
            bands={"medium_from": medium_from, "high_from": high_from},
            costs={"false_negative": dataset.cost_fn, "false_positive": dataset.cost_fp},
            fairness=fairness,
            # The rows the promotion gate scores this version and production on (kit/gate.py).
            holdout_file=write_holdout(
                run.staging, holdout_rows(dataset.frame, y_all, dataset.sensitive, idx_hold),
                what="the holdout split: application, outcome, sensitive attributes"),
        )
        # The reference profile: holdout rows through the model being saved (kit/profile.py).
        attach_profile(run, CreditModel(CreditSettings()),
                       dataset.frame.iloc[idx_hold[:PROFILE_ROWS]].to_dict("records"))
        write_report(run, y_hold, p_hold, p_hold_raw)
        run.say(f"holdout AUC {run.manifest['metrics']['holdout']['auc']:.4f}")
        return run.save()


def save_trees(run: TrainingRun, clf: xgb.XGBClassifier, x_hold: np.ndarray,
               p_hold_raw: np.ndarray) -> dict[str, float]:
    """The served XGBoost: ONNX (checked against the fitted model) and the reasons' tree tables
    (checked against XGBoost's own contributions)."""
    n_features = x_hold.shape[1]
    onnx_path = run.staging / "model.onnx"
    to_onnx(clf, n_features, onnx_path)
    onnx_diff = check_parity("ONNX", onnx_probabilities(onnx_path, x_hold), p_hold_raw,
                             ONNX_TOLERANCE)
    booster = clf.get_booster()
    tables = tables_from_booster(booster, base_margin(booster))
    reference = booster.predict(xgb.DMatrix(x_hold), pred_contribs=True, approx_contribs=True)
    contrib_diff = float(np.max(np.abs(tables.contributions(x_hold) - reference[:, :-1])))
    tables.save(run.staging / "trees.npz")
    booster.save_model(run.staging / "xgboost.json")  # not served: for peers and audits
    run.say(f"ONNX parity {onnx_diff:.1e}, contribution parity {contrib_diff:.1e}")
    return {"onnx_max_abs_diff": onnx_diff, "contrib_max_abs_diff": contrib_diff}


def save_logistic(run: TrainingRun, scorer: LinearScorer, x_hold: np.ndarray,
                  p_hold_raw: np.ndarray) -> dict[str, float]:
    """The served logistic regression: its arrays, reloaded and checked against the fit."""
    scorer.save(run.staging / LINEAR_NPZ)
    loaded = LinearScorer.load(run.staging / LINEAR_NPZ)
    diff = check_parity("saved logistic regression", loaded.raw_probability(x_hold), p_hold_raw,
                        ONNX_TOLERANCE)
    margin = loaded.contributions(x_hold).sum(axis=1) + loaded.bias
    contrib_diff = float(np.max(np.abs(sigmoid(margin) - p_hold_raw)))
    return {"saved_max_abs_diff": diff, "contrib_max_abs_diff": contrib_diff}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_args(parser, data_help="'generated' (default), 'german_credit', or a CSV path",
                      seed=TrainConfig.seed,
                      quick_help="small and fast (tests, smoke runs): 3 folds, 2 candidates, "
                                 "≤ 80 trees, ≤ 3000 generated rows")
    parser.add_argument("--target", help="target column of a CSV (1/bad/default = positive)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows to generate")
    parser.add_argument("--search-budget", type=int, help="candidates tried (default 8; 2 quick)")
    parser.add_argument("--algorithm", choices=("best", *ALGORITHMS), default="best",
                        help="the algorithm served: 'best' (default: the higher CV AUC), or "
                             "one of them whatever the comparison says (both are reported)")
    args = parser.parse_args(argv)
    if args.quick:
        cfg = TrainConfig(folds=3, search_budget=args.search_budget or 2, quick=True,
                          max_trees=80, seed=args.seed, algorithm=args.algorithm)
        rows = min(args.rows, 3000)
    else:
        cfg = TrainConfig(search_budget=args.search_budget or 8, seed=args.seed,
                          algorithm=args.algorithm)
        rows = args.rows
    try:
        dataset = load_dataset(args.data, args.target, rows)
    except (FileNotFoundError, ValueError) as exc:
        print(f"credit train: {exc}", file=sys.stderr)
        return 2
    artifact = train(dataset, args.model_dir, cfg, progress=not args.no_progress)
    print(artifact.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
