"""The ner report's own sections: what the pipeline is, a metrics table per evaluation set,
the goals, and a per-label F1 chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.training import TrainingRun, image, markdown_table, pyplot, save_figure

TITLES = {"generated_holdout": "Generated holdout (same generator, unseen seeds' draws)",
          "eval_set": "Hand-written evaluation set (never trained on)",
          "fire_dev": "FIRE dev (10-K and news; MONEY and DATE only; never trained on)"}


def metrics_table(result: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    return markdown_table(
        ("label", "exact P", "exact R", "exact F1", "overlap F1", "support"),
        [(label, exact["precision"], exact["recall"], exact["f1"], result["overlap"][label]["f1"],
          exact["support"]) for label, exact in result["exact"].items()], digits=3)


def f1_chart(metrics: dict[str, Any], path: Path) -> None:
    fig, axes = pyplot().subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6),
                                  squeeze=False)
    for ax, (name, result) in zip(axes[0], metrics.items(), strict=True):
        labels = list(result["exact"])
        x = range(len(labels))
        ax.bar([i - 0.2 for i in x], [result["exact"][k]["f1"] for k in labels], 0.4, label="exact")
        ax.bar([i + 0.2 for i in x], [result["overlap"][k]["f1"] for k in labels], 0.4,
               label="overlap")
        ax.set_xticks(list(x), labels, rotation=30, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8)
    save_figure(fig, path, dpi=110)


def write_report(run: TrainingRun) -> None:
    metrics = run.manifest["metrics"]
    f1_chart(metrics, run.staging / "f1.png")
    lines = ["spaCy `blank(\"en\")` + entity ruler (MONEY/DATE shapes, festivals) + trained "
             "`ner` + `entity_sanity` (MONEY/DATE spans must look like money/dates).", "",
             "Training data: generated chat requests plus a share of generated report prose "
             "(`formal_share`); nothing from the hand-written set or FIRE.", "",
             image("f1.png", "F1 per label"), ""]
    for name, result in metrics.items():
        lines += [f"## {TITLES.get(name, name)}", "", *metrics_table(result), ""]
    lines += ["Goals: hand-written micro exact F1 ≥ 0.90; FIRE exact F1 MONEY ≥ 0.80, DATE ≥ 0.75.",
              "",
              "FIRE dev was never trained on, but its errors were read while the generator and "
              "the gate were designed, so treat its numbers as development-set numbers."]
    run.write_report("ner model report", lines)
