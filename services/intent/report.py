"""The human-readable training report: report.md with a metrics table and PNG plots."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np


def _table(rows: list[tuple[str, str]], header: tuple[str, str]) -> list[str]:
    return [f"| {header[0]} | {header[1]} |", "| --- | --- |",
            *[f"| {a} | {b} |" for a, b in rows]]


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _plot_threshold(curve: list[dict], threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["threshold"] for r in curve]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(t, [r["in_scope_accuracy"] for r in curve], label="in-scope accuracy")
    ax.plot(t, [r["out_of_scope_recall"] for r in curve], label="out-of-scope recall")
    ax.axvline(threshold, color="grey", linestyle="--", label=f"chosen {threshold:.2f}")
    ax.set_xlabel("confidence threshold")
    ax.set_title("Out-of-scope threshold (validation predictions)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_confusion(predicted: list[str], truth: list[str], labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for p, y in zip(predicted, truth, strict=True):
        matrix[index[y], index[p]] += 1
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, j in zip(*np.nonzero(matrix), strict=True):
        ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Holdout confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(directory: Path, manifest: dict, curve: list[dict], predicted: list[str],
                 truth: list[str], labels: list[str]) -> None:
    params, metrics = manifest["parameters"], manifest["metrics"]
    lines = [f"# Intent model report ({manifest['data']} data)", "",
             f"Head: `{params['head']}`; encoder: all-MiniLM-L6-v2 ONNX "
             f"({manifest['encoder']['variant']}); train {params['train_size']}, "
             f"holdout {params['holdout_size']} texts.", "", "## Holdout metrics", ""]
    lines += _table([(k, _fmt(v)) for k, v in metrics.items() if isinstance(v, float)],
                    ("metric", "value"))
    lines += ["", "## Head selection (validation accuracy, before the threshold)", ""]
    lines += _table([(k, _fmt(v)) for k, v in manifest["selection"].items()],
                    ("head", "accuracy"))
    lines += ["", "## Encoder variants on the holdout", ""]
    for variant, values in manifest["variants"].items():
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in values.items() if isinstance(v, float))
        lines.append(f"- **{variant}**: {shown}")
    lines += ["", "## Recall per label (holdout)", ""]
    lines += _table([(k, _fmt(v)) for k, v in metrics["per_label_recall"].items()],
                    ("label", "recall"))
    confusions = Counter((y, p) for p, y in zip(predicted, truth, strict=True) if p != y)
    lines += ["", "## Most frequent confusions (true → predicted)", ""]
    lines += [f"- {y} → {p}: {n}" for (y, p), n in confusions.most_common(10)] or ["- none"]
    if curve:
        _plot_threshold(curve, params["out_of_scope_threshold"], directory / "threshold.png")
        lines += ["", f"Out-of-scope threshold: {params['out_of_scope_threshold']:.2f}", "",
                  "![threshold](threshold.png)"]
    if len(labels) <= 30:
        _plot_confusion(predicted, truth, labels, directory / "confusion.png")
        lines += ["", "![confusion matrix](confusion.png)"]
    (directory / "report.md").write_text("\n".join(lines) + "\n")
