"""The anomaly report's own sections: the holdout against the all-features baseline, the
threshold, the features forward selection chose, and two plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kit.training import TrainingRun, image, markdown_table, pyplot, save_figure

RANKING = [("AUC-ROC", "auc_roc"), ("Average precision", "average_precision"),
           ("Card precision@100 (mean per day)", "card_precision_at_100_mean")]
AT_THRESHOLD = [("Flagged share at threshold", "flagged_rate"),
                ("False-positive rate at threshold", "false_positive_rate"),
                ("Recall at threshold", "recall_at_threshold"),
                ("Precision at threshold", "precision_at_threshold")]


def write_report(run: TrainingRun, scores: np.ndarray, labels: np.ndarray,
                 labelled: bool = True) -> None:
    if not labelled:
        _write_unsupervised(run, scores)
        return
    manifest = run.manifest
    metrics = manifest["metrics"]["holdout"]
    baseline = manifest["metrics"]["all_features_baseline"]
    threshold = manifest["threshold"]
    _plot_scores(run.staging / "scores.png", scores, labels, threshold["score"])
    _plot_precision_recall(run.staging / "precision_recall.png", scores, labels)
    lines = [f"Holdout: {metrics['transactions']:,} transactions, "
             f"fraud rate {metrics['fraud_rate']:.2%}.", ""]
    lines += markdown_table(
        ("metric", "selected features", "all features (baseline)"),
        [*((title, str(metrics[key]), str(baseline[key])) for title, key in RANKING),
         *((title, str(metrics[key]), "–") for title, key in AT_THRESHOLD)])
    lines += [
        "", f"Threshold: score ≥ {threshold['score']:.4f} (target false-positive rate "
        f"{threshold['target_false_positive_rate']:.1%} on the fit window's genuine "
        "transactions).", "",
        "Card precision@100 per day: "
        + ", ".join(str(v) for v in metrics["card_precision_at_100_per_day"]), "",
        "## Features chosen (forward selection, validation average precision)", "",
    ]
    lines += [f"{i}. `{s['feature']}` → {s['validation_ap']}"
              for i, s in enumerate(manifest["features"]["selection"], 1)]
    lines += ["", image("scores.png", "scores"), "",
              image("precision_recall.png", "precision-recall")]
    run.write_report("Anomaly model report", lines)


def _write_unsupervised(run: TrainingRun, scores: np.ndarray) -> None:
    """Data without fraud labels: the score distribution and the alert rate, said plainly."""
    manifest = run.manifest
    metrics, threshold = manifest["metrics"]["holdout"], manifest["threshold"]
    _plot_scores(run.staging / "scores.png", scores, None, threshold["score"])
    quantiles = metrics["score_quantiles"]
    lines = [
        "**Evaluation is unsupervised**: the data has no `fraud` column, so no AUC, average "
        "precision, recall or precision can be measured, features were not selected (the "
        "model uses every feature but the merchant-risk ones, which need confirmed fraud), and "
        "the threshold assumes the fit window's transactions are genuine. Add a `fraud` "
        "column to get the default model's metrics.", "",
        f"Test window: {metrics['transactions']:,} transactions of {metrics['users']:,} users.",
        "",
    ]
    lines += markdown_table(("measure", "value"), [
        ("Alert rate at the threshold (test window)", str(metrics["flagged_rate"])),
        ("Alerts a day (test window, mean)", str(metrics["alerts_per_day_mean"])),
        *((f"Score {k}", str(v)) for k, v in quantiles.items())])
    lines += [
        "", f"Threshold: score ≥ {threshold['score']:.4f} "
        f"({threshold['target_false_positive_rate']:.1%} of the fit window's transactions "
        "score above it).", "",
        "## Features", "", ", ".join(f"`{f}`" for f in manifest["features"]["model"]), "",
        image("scores.png", "scores"),
    ]
    run.write_report("Anomaly model report", lines)


def _plot_scores(path: Path, scores: np.ndarray, labels: np.ndarray | None,
                 threshold: float) -> None:
    fig, ax = pyplot().subplots(figsize=(6, 3.5))
    bins = np.linspace(float(scores.min()), float(scores.max()), 60)
    if labels is None:
        ax.hist(scores, bins=bins, density=True, alpha=0.6, label="all (unlabelled)")
    else:
        ax.hist(scores[labels == 0], bins=bins, density=True, alpha=0.6, label="genuine")
        ax.hist(scores[labels == 1], bins=bins, density=True, alpha=0.6, label="fraud")
    ax.axvline(threshold, color="k", linestyle="--", label="threshold")
    ax.set_xlabel("anomaly score")
    ax.legend()
    save_figure(fig, path)


def _plot_precision_recall(path: Path, scores: np.ndarray, labels: np.ndarray) -> None:
    from sklearn.metrics import precision_recall_curve

    fig, ax = pyplot().subplots(figsize=(5, 4))
    if labels.sum():
        precision, recall, _ = precision_recall_curve(labels, scores)
        ax.plot(recall, precision)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("holdout precision-recall")
    save_figure(fig, path)
