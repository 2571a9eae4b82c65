"""The credit report's own sections: the algorithms compared, CV and holdout scores,
calibration (ECE and the reliability diagram), the decision threshold, fairness, the parity
checks, and the ROC plot."""

from __future__ import annotations

import numpy as np

from kit.calibration import ECE_DEFINITION, plot_reliability, reliability_lines, winner_line
from kit.training import TrainingRun, fmt, image, markdown_table, pyplot, save_figure

COMPARED = ("auc", "ks", "ap", "brier", "ece")


def plot_roc(run: TrainingRun, y: np.ndarray, p: np.ndarray) -> str:
    from sklearn.metrics import roc_curve

    plt = pyplot()
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (holdout)")
    ax.legend(loc="lower right")
    save_figure(fig, run.staging / "roc.png")
    return "roc.png"


def algorithm_lines(manifest: dict) -> list[str]:
    """Both algorithms side by side: CV on the train split (the choice) and the holdout (each
    Platt-calibrated on its own out-of-fold probabilities), then who won and by how much."""
    compared, choice = manifest["candidates"], manifest["choice"]
    rows = []
    for algorithm, result in compared.items():
        params = ", ".join(f"{k}={v}" for k, v in result["parameters"].items())
        rows.append((f"**{algorithm}**" if algorithm == choice["served"] else algorithm,
                     f"{result['cv']['auc']['mean']:.4f} ± {result['cv']['auc']['std']:.4f}",
                     *(result["holdout"][key] for key in COMPARED), params))
    cv_auc = {a: r["cv"]["auc"]["mean"] for a, r in compared.items()}
    served = (f"the served model is `{choice['served']}`" if choice["asked"] == "best" else
              f"`{choice['served']}` is served because `--algorithm {choice['asked']}` asked "
              "for it")
    return [
        "## Algorithms compared", "",
        *markdown_table(("algorithm", "CV AUC", *(f"holdout {k}" for k in COMPARED),
                         "parameters"), rows),
        "",
        winner_line(cv_auc, choice["by"]) + f" On the holdout the CV winner's AUC is "
        f"{choice['holdout_auc_margin']:+.4f} against `{choice['runner_up']}`; {served}.",
        "",
        "Each algorithm's parameters are chosen by CV on the train split (the trees from a "
        "random grid, the logistic regression's L2 strength C from "
        f"{', '.join(str(t['c']) for t in manifest['logistic_search'])}, on standardised "
        "one-hot and numeric columns); the holdout is scored once at the end.",
        "",
    ]


def calibration_lines(run: TrainingRun, y_hold: np.ndarray, p_hold: np.ndarray,
                      p_hold_raw: np.ndarray) -> list[str]:
    calibration = run.manifest["calibration"]
    before, after = calibration["holdout_before"], calibration["holdout_after"]
    plot_reliability({"before Platt": (p_hold_raw, y_hold), "served (Platt)": (p_hold, y_hold)},
                     run.staging / "reliability.png", title="Reliability (holdout)",
                     xlabel="predicted PD", ylabel="observed default rate")
    return [
        "## Calibration (holdout)", "",
        f"ECE before calibration {before['ece']:.4f}, served (Platt scaling fitted on "
        f"{calibration['fitted_on']}: slope {calibration['slope']:.3f}, intercept "
        f"{calibration['intercept']:.3f}) {after['ece']:.4f}; {ECE_DEFINITION}, here the "
        "predicted PD against the observed default rate.", "",
        *reliability_lines(after["reliability"]), "",
        image("reliability.png", "reliability diagram"), "",
    ]


def write_report(run: TrainingRun, y_hold: np.ndarray, p_hold: np.ndarray,
                 p_hold_raw: np.ndarray) -> None:
    manifest = run.manifest
    m = manifest["metrics"]
    lines = [f"{m['n_train']} training rows, {m['n_holdout']} holdout rows; served algorithm: "
             f"`{manifest['algorithm']}`.", "", *algorithm_lines(manifest),
             "## The served model", ""]
    lines += markdown_table(
        ("metric", "CV on the train split", "CV on all rows", "holdout"),
        [(key, f"{m['cv'][key]['mean']:.4f} ± {m['cv'][key]['std']:.4f}",
          f"{m['cv_all_rows'][key]['mean']:.4f} ± {m['cv_all_rows'][key]['std']:.4f}",
          m["holdout"][key]) for key in COMPARED])
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
        *calibration_lines(run, y_hold, p_hold, p_hold_raw),
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
    lines += ["", "## Checks", ""]
    if manifest["algorithm"] == "xgboost":
        lines += [f"- ONNX vs XGBoost max |Δp| = {m['onnx_max_abs_diff']:.2e} (must be ≤ 1e-5)",
                  f"- tree-table contributions vs XGBoost approx_contribs max |Δ| = "
                  f"{m['contrib_max_abs_diff']:.2e}"]
    else:
        lines += [f"- saved vs fitted logistic regression max |Δp| = "
                  f"{m['saved_max_abs_diff']:.2e} (must be ≤ 1e-5)",
                  f"- sigmoid(Σ contributions + bias) vs p max |Δ| = "
                  f"{m['contrib_max_abs_diff']:.2e}"]
    lines += ["", image(plot_roc(run, y_hold, p_hold), "roc.png")]
    run.write_report("credit model", lines)
