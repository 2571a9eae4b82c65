"""The intent report's own sections: holdout metrics, head selection, encoder variants, recall
per label, frequent confusions, and the threshold and confusion plots."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from kit.training import TrainingRun, fmt, image, markdown_table, pyplot, save_figure


def _plot_threshold(curve: list[dict], threshold: float, path: Path) -> None:
    t = [r["threshold"] for r in curve]
    fig, ax = pyplot().subplots(figsize=(6, 4))
    ax.plot(t, [r["in_scope_accuracy"] for r in curve], label="in-scope accuracy")
    ax.plot(t, [r["out_of_scope_recall"] for r in curve], label="out-of-scope recall")
    ax.axvline(threshold, color="grey", linestyle="--", label=f"chosen {threshold:.2f}")
    ax.set_xlabel("confidence threshold")
    ax.set_title("Out-of-scope threshold (validation predictions)")
    ax.legend()
    save_figure(fig, path)


def _plot_confusion(predicted: list[str], truth: list[str], labels: list[str], path: Path) -> None:
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for p, y in zip(predicted, truth, strict=True):
        matrix[index[y], index[p]] += 1
    fig, ax = pyplot().subplots(figsize=(8, 7))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, j in zip(*np.nonzero(matrix), strict=True):
        ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Holdout confusion matrix")
    save_figure(fig, path)


def write_report(run: TrainingRun, curve: list[dict], predicted: list[str], truth: list[str],
                 labels: list[str]) -> None:
    manifest = run.manifest
    params, metrics = manifest["parameters"], manifest["metrics"]
    lines = [f"Head: `{params['head']}`; encoder: all-MiniLM-L6-v2 ONNX "
             f"({manifest['encoder']['variant']}); train {params['train_size']}, "
             f"holdout {params['holdout_size']} texts.", "", "## Holdout metrics", ""]
    lines += markdown_table(("metric", "value"),
                            [(k, v) for k, v in metrics.items() if isinstance(v, float)])
    lines += ["", "## Head selection (validation accuracy, before the threshold)", ""]
    lines += markdown_table(("head", "accuracy"), manifest["selection"].items())
    lines += ["", "## Encoder variants on the holdout", ""]
    for variant, values in manifest["variants"].items():
        shown = ", ".join(f"{k} {fmt(v)}" for k, v in values.items() if isinstance(v, float))
        lines.append(f"- **{variant}**: {shown}")
    lines += ["", "## Recall per label (holdout)", ""]
    lines += markdown_table(("label", "recall"), metrics["per_label_recall"].items())
    confusions = Counter((y, p) for p, y in zip(predicted, truth, strict=True) if p != y)
    lines += ["", "## Most frequent confusions (true → predicted)", ""]
    lines += [f"- {y} → {p}: {n}" for (y, p), n in confusions.most_common(10)] or ["- none"]
    if curve:
        _plot_threshold(curve, params["out_of_scope_threshold"], run.staging / "threshold.png")
        lines += ["", f"Out-of-scope threshold: {params['out_of_scope_threshold']:.2f}", "",
                  image("threshold.png", "threshold")]
    if len(labels) <= 30:
        _plot_confusion(predicted, truth, labels, run.staging / "confusion.png")
        lines += ["", image("confusion.png", "confusion matrix")]
    run.write_report(f"Intent model report ({manifest['data']} data)", lines)
