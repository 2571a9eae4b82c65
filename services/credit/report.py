"""The credit report's own sections: CV and holdout scores, the decision threshold, fairness,
the parity checks, and ROC and calibration plots."""

from __future__ import annotations

import numpy as np

from kit.training import TrainingRun, fmt, image, markdown_table, pyplot, save_figure


def plot_roc_and_calibration(run: TrainingRun, y: np.ndarray, p: np.ndarray) -> list[str]:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    plt = pyplot()
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (holdout)")
    ax.legend(loc="lower right")
    save_figure(fig, run.staging / "roc.png")

    frac, mean_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(mean_pred, frac, "o-", label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.set(xlabel="predicted PD", ylabel="observed default rate", title="Calibration (holdout)")
    ax.legend(loc="upper left")
    save_figure(fig, run.staging / "calibration.png")
    return ["roc.png", "calibration.png"]


def write_report(run: TrainingRun, y_hold: np.ndarray, p_hold: np.ndarray) -> None:
    manifest = run.manifest
    m = manifest["metrics"]
    lines = [f"{m['n_train']} training rows, {m['n_holdout']} holdout rows.", ""]
    lines += markdown_table(
        ("metric", "CV on the train split", "CV on all rows", "holdout"),
        [(key, f"{m['cv'][key]['mean']:.4f} ± {m['cv'][key]['std']:.4f}",
          f"{m['cv_all_rows'][key]['mean']:.4f} ± {m['cv_all_rows'][key]['std']:.4f}",
          m["holdout"][key]) for key in ("auc", "ks", "brier")])
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
        "## Fairness (holdout, approval = band below high)",
    ]
    for attr, result in manifest["fairness"].items():
        lines += [
            "",
            f"**{attr}**: approval-rate ratio {fmt(result['approval_rate_ratio'])}, "
            f"equal-opportunity difference {fmt(result['equal_opportunity_difference'])}",
            "",
            *markdown_table(
                ("group", "n", "approval rate", "approval rate among good payers"),
                [(group, row["n"], row["approval_rate"], row["good_approval_rate"])
                 for group, row in result["groups"].items()]),
        ]
    lines += ["", "## Checks", "",
              f"- ONNX vs XGBoost max |Δp| = {m['onnx_max_abs_diff']:.2e} (must be ≤ 1e-5)",
              f"- tree-table contributions vs XGBoost approx_contribs max |Δ| = "
              f"{m['contrib_max_abs_diff']:.2e}", ""]
    lines += [image(p, p) for p in plot_roc_and_calibration(run, y_hold, p_hold)]
    run.write_report("credit model", lines)
