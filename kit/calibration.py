"""Calibration for every classifier's training report: expected calibration error over 15
equal-width bins, the reliability table behind it, the reliability diagram, and the line that
says which candidate won and by how much.

One definition for every model: `predicted` is a probability the model states and `observed`
whether that event happened. For a multi-class model that is the served label's confidence and
whether the label was right (top-label calibration); for a binary risk model it is the predicted
probability of the positive class and whether the positive happened (a PD against the observed
default rate). ECE = Σ over bins of (share of rows in the bin) × |mean predicted − observed
rate|, the bins being [0, 1/15), [1/15, 2/15), … [14/15, 1] (Guo et al., 2017; Naeini et al.,
2015). Training-only: matplotlib is imported when a diagram is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ECE_BINS = 15
ECE_DEFINITION = (f"expected calibration error over {ECE_BINS} equal-width bins of the stated "
                  "probability: Σ (rows in bin / rows) × |mean stated − observed rate|")


def _bin_index(predicted: np.ndarray, bins: int) -> np.ndarray:
    return np.clip((predicted * bins).astype(int), 0, bins - 1)


def reliability(predicted: Sequence[float], observed: Sequence[float],
                bins: int = ECE_BINS) -> list[dict[str, float]]:
    """One row per non-empty bin: its range, rows, mean stated probability, observed rate."""
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(observed, dtype=np.float64)
    index = _bin_index(p, bins)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append({"from": b / bins, "to": (b + 1) / bins, "n": int(mask.sum()),
                         "mean_predicted": float(p[mask].mean()),
                         "observed": float(y[mask].mean())})
    return rows


def expected_calibration_error(predicted: Sequence[float], observed: Sequence[float],
                               bins: int = ECE_BINS) -> float:
    table = reliability(predicted, observed, bins)
    total = sum(row["n"] for row in table)
    if not total:
        return float("nan")
    return float(sum(row["n"] * abs(row["mean_predicted"] - row["observed"])
                     for row in table) / total)


def calibration_summary(predicted: Sequence[float], observed: Sequence[float],
                        bins: int = ECE_BINS) -> dict[str, Any]:
    """What a manifest records: the ECE, its bins, the rows and the reliability table."""
    return {"ece": expected_calibration_error(predicted, observed, bins), "bins": bins,
            "n": len(predicted), "reliability": reliability(predicted, observed, bins)}


def plot_reliability(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: Path,
                     *, title: str, xlabel: str, ylabel: str, bins: int = ECE_BINS) -> None:
    """The reliability diagram: observed rate against mean stated probability per bin, one line
    per curve (e.g. before and after calibration) with its ECE in the legend, the diagonal as
    perfect calibration, and the share of rows per bin as bars below."""
    from kit.training import pyplot, save_figure

    plt = pyplot()
    fig, (ax, share) = plt.subplots(2, 1, figsize=(5, 6), sharex=True,
                                    gridspec_kw={"height_ratios": (3, 1)})
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    width = 1 / bins / (len(curves) + 1)
    for k, (label, (predicted, observed)) in enumerate(curves.items()):
        table = reliability(predicted, observed, bins)
        ece = expected_calibration_error(predicted, observed, bins)
        ax.plot([r["mean_predicted"] for r in table], [r["observed"] for r in table], "o-",
                label=f"{label} (ECE {ece:.3f})")
        share.bar([r["from"] + (k + 0.5) * width for r in table],
                  [r["n"] / len(predicted) for r in table], width=width, label=label)
    ax.set(ylabel=ylabel, title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left", fontsize=8)
    share.set(xlabel=xlabel, ylabel="share of rows", xlim=(0, 1))
    share.set_xticks(np.linspace(0, 1, 6))
    save_figure(fig, path)


def winner_line(scores: Mapping[str, float], metric: str, *, higher: bool = True,
                digits: int = 4) -> str:
    """'`a` won on validation AUC: 0.81 against 0.80 for `b` (+0.01).' — the best candidate,
    the runner-up and the margin between them, in the metric's own units."""
    order = sorted(scores, key=lambda name: scores[name], reverse=higher)
    best = order[0]
    if len(order) == 1:
        return f"`{best}` was the only candidate ({metric} {scores[best]:.{digits}f})."
    second = order[1]
    margin = scores[best] - scores[second]
    return (f"`{best}` won on {metric}: {scores[best]:.{digits}f} against "
            f"{scores[second]:.{digits}f} for `{second}` ({margin:+.{digits}f}).")


def reliability_lines(table: list[dict[str, float]]) -> list[str]:
    """The reliability table as Markdown, for reports that also show the diagram."""
    from kit.training import markdown_table

    return markdown_table(("bin", "rows", "mean stated", "observed"),
                          [(f"{r['from']:.3f}–{r['to']:.3f}", r["n"], r["mean_predicted"],
                            r["observed"]) for r in table])
