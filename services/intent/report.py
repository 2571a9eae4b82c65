"""The intent report's own sections: holdout metrics, head selection, calibration (ECE and the
reliability diagram), the out-of-scope operating point, encoder variants, recall per label,
frequent confusions, and the threshold and confusion plots."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from kit.calibration import ECE_DEFINITION, plot_reliability, reliability_lines, winner_line
from kit.training import TrainingRun, fmt, image, markdown_table, pyplot, save_figure

OOS_METRICS = ("accuracy", "in_scope_accuracy", "out_of_scope_recall", "out_of_scope_precision")


def _plot_threshold(curve: list[dict], threshold: float, path: Path) -> None:
    t = [r["threshold"] for r in curve]
    fig, ax = pyplot().subplots(figsize=(6, 4))
    ax.plot(t, [r["in_scope_accuracy"] for r in curve], label="in-scope accuracy")
    ax.plot(t, [r["out_of_scope_recall"] for r in curve], label="out-of-scope recall")
    ax.plot(t, [r["out_of_scope_precision"] for r in curve], label="out-of-scope precision")
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


def calibration_lines(run: TrainingRun, pairs: dict) -> list[str]:
    """ECE before (softmax at temperature 1, its top label) and as served (the temperature and
    the threshold applied), the served reliability table and the diagram with both curves."""
    calibration = run.manifest["calibration"]
    before, after = calibration["holdout_before"], calibration["holdout_after"]
    plot_reliability({"temperature 1": pairs["before"],
                      f"served (temperature {calibration['temperature']:.3g})": pairs["served"]},
                     run.staging / "reliability.png", title="Reliability (holdout)",
                     xlabel="stated confidence of the answered label",
                     ylabel="share answered right")
    return [
        "## Calibration (holdout)", "",
        f"ECE {before['ece']:.4f} before calibration (softmax at temperature 1), "
        f"{after['ece']:.4f} as served (temperature {calibration['temperature']:.4g}, fitted on "
        f"{calibration['fitted_on']}; the out-of-scope threshold applied); {ECE_DEFINITION}, "
        "here the answered label's confidence against whether it is right. A temperature "
        "rescales every score alike, so it never changes the top label.", "",
        *reliability_lines(after["reliability"]), "",
        image("reliability.png", "reliability diagram"), "",
    ]


def operating_point_lines(run: TrainingRun) -> list[str]:
    point, metrics = run.manifest["out_of_scope"], run.manifest["metrics"]
    if "note" in point:
        return ["## Out-of-scope operating point", "", point["note"] + ".", ""]
    asked = (f"target **{point['target']}** ({point['criterion']}"
             + ("" if point.get("met", True) else "; no threshold met it on validation, so the "
                "closest was taken") + ")") if point["target"] else (
        f"default criterion ({point['criterion']}; `--oos-target recall=R` or `precision=P` "
        "chooses another)")
    without = metrics["without_threshold"]
    return [
        "## Out-of-scope operating point", "",
        f"Threshold {point['threshold']:.2f}, chosen on validation predictions by the {asked}.",
        "",
        *markdown_table(("metric", "validation at the threshold", "holdout, no threshold",
                         "holdout, threshold (served)"),
                        [(k, point["validation"][k], without[k], metrics[k])
                         for k in OOS_METRICS]),
        "",
    ]


def write_report(run: TrainingRun, curve: list[dict], predicted: list[str], truth: list[str],
                 labels: list[str], pairs: dict) -> None:
    manifest = run.manifest
    params, metrics = manifest["parameters"], manifest["metrics"]
    lines = [f"Head: `{params['head']}`; encoder: all-MiniLM-L6-v2 ONNX "
             f"({manifest['encoder']['variant']}); train {params['train_size']}, "
             f"holdout {params['holdout_size']} texts.", "", "## Holdout metrics", ""]
    lines += markdown_table(("metric", "value"),
                            [(k, v) for k, v in metrics.items() if isinstance(v, float)])
    lines += ["", "## Head selection (validation accuracy, before the threshold)", ""]
    lines += markdown_table(("head", "accuracy"), manifest["selection"].items())
    lines += ["", winner_line(manifest["selection"],
                              f"validation accuracy ({params['selection_folds']}-fold)"
                              if params["selection_folds"] > 1 else "validation accuracy"), ""]
    lines += calibration_lines(run, pairs)
    lines += operating_point_lines(run)
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
        lines += ["", f"Out-of-scope threshold: {params['out_of_scope_threshold']:.2f} "
                  "(validation curve)", "", image("threshold.png", "threshold")]
    if len(labels) <= 30:
        _plot_confusion(predicted, truth, labels, run.staging / "confusion.png")
        lines += ["", image("confusion.png", "confusion matrix")]
    run.write_report(f"Intent model report ({manifest['data']} data)", lines)
