"""The human-readable training report: a Markdown page with ROC and calibration plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_roc_and_calibration(y: np.ndarray, p: np.ndarray, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (holdout)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out_dir / "roc.png", dpi=100)
    plt.close(fig)

    frac, mean_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(mean_pred, frac, "o-", label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.set(xlabel="predicted PD", ylabel="observed default rate", title="Calibration (holdout)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out_dir / "calibration.png", dpi=100)
    plt.close(fig)
    return ["roc.png", "calibration.png"]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "—" if value is None else str(value)


def write_report(path: Path, manifest: dict[str, Any], plots: list[str]) -> None:
    m = manifest["metrics"]
    lines = [
        f"# credit model — {manifest['data']}",
        "",
        f"Trained {manifest.get('created_at', '(now)')} on {m['n_train']} rows, holdout "
        f"{m['n_holdout']} rows; data sha256 `{manifest['data_sha256'][:16]}…`.",
        "",
        "| metric | CV on the train split | CV on all rows | holdout |",
        "| --- | --- | --- | --- |",
    ]
    for key in ("auc", "ks", "brier"):
        cv, cv_all = m["cv"][key], m["cv_all_rows"][key]
        lines.append(f"| {key} | {cv['mean']:.4f} ± {cv['std']:.4f} | {cv_all['mean']:.4f} ± "
                     f"{cv_all['std']:.4f} | {m['holdout'][key]:.4f} |")
    lines += [
        "",
        "Parameters are chosen by CV on the train split only; the holdout is never seen until the "
        "end. 'CV on all rows' refits the chosen parameters in each fold of all the data, the "
        "protocol most published figures for public datasets use.",
        "",
        f"Brier before calibration (holdout): {m['holdout_uncalibrated']['brier']:.4f}; "
        f"after Platt scaling: {m['holdout']['brier']:.4f}.",
        "",
        f"Decision threshold (cost {manifest['costs']['false_negative']}:"
        f"{manifest['costs']['false_positive']}, bad approved : good declined): PD ≥ "
        f"{manifest['bands']['high_from']:.3f} → high/decline; PD ≥ "
        f"{manifest['bands']['medium_from']:.3f} → medium/review. Holdout cost per applicant "
        f"{m['holdout_cost_per_applicant']:.3f} vs {m['approve_all_cost_per_applicant']:.3f} "
        "when approving everyone.",
        "",
        f"Best parameters: `{manifest['parameters']}`",
        "",
        "## Fairness (holdout, approval = band below high)",
    ]
    for attr, result in manifest["fairness"].items():
        lines += [
            "",
            f"**{attr}**: approval-rate ratio {_fmt(result['approval_rate_ratio'])}, "
            f"equal-opportunity difference {_fmt(result['equal_opportunity_difference'])}",
            "",
            "| group | n | approval rate | approval rate among good payers |",
            "| --- | --- | --- | --- |",
        ]
        for group, row in result["groups"].items():
            lines.append(f"| {group} | {row['n']} | {_fmt(row['approval_rate'])} | "
                         f"{_fmt(row['good_approval_rate'])} |")
    lines += ["", "## Checks", "",
              f"- ONNX vs XGBoost max |Δp| = {m['onnx_max_abs_diff']:.2e} (must be ≤ 1e-5)",
              f"- tree-table contributions vs XGBoost approx_contribs max |Δ| = "
              f"{m['contrib_max_abs_diff']:.2e}", ""]
    lines += [f"![{p}]({p})" for p in plots]
    path.write_text("\n".join(lines) + "\n")
