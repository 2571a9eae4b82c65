"""The human-readable side of an artifact: report.md with a metrics table and two plots."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve

ROWS = [("AUC-ROC", "auc_roc"), ("Average precision", "average_precision"),
        ("Card precision@100 (mean per day)", "card_precision_at_100_mean"),
        ("Flagged share at threshold", "flagged_rate"),
        ("False-positive rate at threshold", "false_positive_rate"),
        ("Recall at threshold", "recall_at_threshold"),
        ("Precision at threshold", "precision_at_threshold")]


def write_report(folder: Path, data_name: str, metrics: dict, baseline: dict, selection: list,
                 scores: np.ndarray, labels: np.ndarray, threshold: float, cfg) -> None:
    _plot_scores(folder / "scores.png", scores, labels, threshold)
    _plot_precision_recall(folder / "precision_recall.png", scores, labels)
    lines = [
        "# Anomaly model report", "",
        f"Data: {data_name}. Holdout: {metrics['transactions']:,} transactions, "
        f"fraud rate {metrics['fraud_rate']:.2%}.", "",
        "| metric | selected features | all features (baseline) |", "| --- | --- | --- |",
    ]
    for title, key in ROWS[:3]:
        lines.append(f"| {title} | {metrics[key]} | {baseline[key]} |")
    for title, key in ROWS[3:]:
        lines.append(f"| {title} | {metrics[key]} | – |")
    lines += [
        "", f"Threshold: score ≥ {threshold:.4f} (target false-positive rate "
        f"{cfg.target_fpr:.1%} on the fit window's genuine transactions).", "",
        "Card precision@100 per day: "
        + ", ".join(str(v) for v in metrics["card_precision_at_100_per_day"]), "",
        "## Features chosen (forward selection, validation average precision)", "",
    ]
    lines += [f"{i}. `{s['feature']}` → {s['validation_ap']}" for i, s in enumerate(selection, 1)]
    lines += ["", "## Parameters", "", *[f"- {k}: {v}" for k, v in asdict(cfg).items()], "",
              "![scores](scores.png)", "", "![precision-recall](precision_recall.png)", ""]
    (folder / "report.md").write_text("\n".join(lines))


def _plot_scores(path: Path, scores: np.ndarray, labels: np.ndarray, threshold: float) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(float(scores.min()), float(scores.max()), 60)
    ax.hist(scores[labels == 0], bins=bins, density=True, alpha=0.6, label="genuine")
    ax.hist(scores[labels == 1], bins=bins, density=True, alpha=0.6, label="fraud")
    ax.axvline(threshold, color="k", linestyle="--", label="threshold")
    ax.set_xlabel("anomaly score")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_precision_recall(path: Path, scores: np.ndarray, labels: np.ndarray) -> None:
    fig, ax = plt.subplots(figsize=(5, 4))
    if labels.sum():
        precision, recall, _ = precision_recall_curve(labels, scores)
        ax.plot(recall, precision)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("holdout precision-recall")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
