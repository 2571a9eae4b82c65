"""Human-readable reports: the training report next to the artifact, and the M3 report."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from services.spending.forecaster import ForecastConfig, forecast_spending
from services.spending.history import HistoryLimits, build_history
from services.spending.schema import HistoryItem


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _metric_table(metrics: dict) -> list[str]:
    lines = ["| path | series | combination sMAPE | Theta | Prophet | seasonal naive | "
             "coverage (raw → scaled) |", "|---|---|---|---|---|---|---|"]
    for path in ("transactions", "monthly", "short"):
        m = metrics.get(path) or {}
        if not m:
            continue
        lines.append(
            f"| {path} | {m['series']} | {m['combination_smape']:.2f} | {m['theta_smape']:.2f} | "
            f"{m['prophet_smape']:.2f} | {m['seasonal_naive_smape']:.2f} | "
            f"{m['coverage_raw']:.2f} → {m['coverage']:.2f} |")
    return lines


def plot_example(path: Path, transactions: list[dict], config: ForecastConfig) -> None:
    """One synthetic household: monthly history, forecast and its 80% interval."""
    history = build_history([HistoryItem(**t) for t in transactions],
                            HistoryLimits(max_points=10**6))
    result = forecast_spending(history, 12, 0.8, config).total
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(history.monthly.index.to_timestamp(), history.monthly.to_numpy(), label="history")
    months = result.months.to_timestamp()
    ax.plot(months, result.yhat, label=f"forecast ({result.method})")
    ax.fill_between(months, result.lower, result.upper, alpha=0.25, label="80% interval")
    ax.set_ylabel("₹ per month")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_training_report(
    out: Path, users, fitted: ForecastConfig, metrics: dict, train_cfg
) -> None:
    longest = max(users, key=lambda u: len(u.transactions))
    plot_example(out / "example_forecast.png", longest.transactions, fitted)
    lines = [
        "# spending: training report", "",
        f"{len(users)} synthetic households (seed {train_cfg.seed}, {train_cfg.min_months}–"
        f"{train_cfg.max_months} months each); each forecast its last "
        f"{train_cfg.holdout_months} months, unseen by the fit. Paths: `monthly` = two years "
        "or more "
        "(Prophet on monthly totals + Theta), `transactions` = one to two years (Prophet on daily "
        "totals with Indian festivals + Theta), `short` = under a year (Theta alone). The "
        "Prophet column is the path's Prophet alone (Theta where it has none).", "",
        "## Fitted parameters", "",
        f"- weight of Prophet (daily, Indian festivals) beside Theta: "
        f"{fitted.weight_prophet_daily}",
        f"- weight of Prophet (monthly) beside Theta: {fitted.weight_prophet_monthly}",
        f"- interval scale: {fitted.interval_scale}", "",
        "## Holdout accuracy", "", *_metric_table(metrics), "",
        f"Nominal interval coverage: {metrics['nominal_coverage']:.2f}.", "",
        "![example forecast](example_forecast.png)", "",
    ]
    (out / "report.md").write_text("\n".join(lines))


def write_m3_report(out: Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    s = result["smape"]
    lines = [
        "# spending: M3 monthly benchmark", "",
        f"{result['series']} series"
        + (f" (fixed-seed sample, seed {result['sample_seed']})" if result["sample_seed"] else
           " (all)")
        + f"; forecast = last 18 points; config from {result['config_from']}.", "",
        "| method | sMAPE |", "|---|---|",
        f"| combination (Prophet weight {result['weight_prophet']}) | {s['combination']:.2f} |",
        f"| Theta (ours) | {s['theta']:.2f} |",
        f"| Prophet (ours, bounded fit) | {s['prophet']:.2f} |",
        f"| Naive2 (ours) | {s['naive2']:.2f} |",
        f"| seasonal naive (ours) | {s['seasonal_naive']:.2f} |",
        *[f"| {k} (published) | {v:.2f} |" for k, v in result["published"].items()], "",
        "Combination sMAPE by Prophet weight: "
        + ", ".join(f"{w}: {v:.2f}" for w, v in result["smape_by_weight"].items()), "",
        f"80% interval coverage of the combination: {result['coverage_80']:.3f}.", "",
        "The Prophet weight was chosen on the validation windows (the 18 points before each "
        "test); validation sMAPE by weight: "
        + ", ".join(f"{w}: {v:.2f}" for w, v in result["validation_smape_by_weight"].items()),
        "",
        f"Time: {result['seconds']} s ({result['ms_per_series']} ms a series per pass: Theta, "
        "Prophet, Naive2, seasonal naive).", "",
    ]
    (out / "m3.md").write_text("\n".join(lines))
