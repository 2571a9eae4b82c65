"""The spending report's own sections (the fitted parameters, holdout accuracy per path, an
example forecast), and the M3 benchmark's report."""

from __future__ import annotations

from pathlib import Path

from kit.training import TrainingRun, image, markdown_table, pyplot, save_figure
from services.spending.forecaster import ForecastConfig, forecast_spending
from services.spending.history import HistoryLimits, build_history
from services.spending.schema import HistoryItem


def _metric_table(metrics: dict) -> list[str]:
    rows = []
    for path in ("transactions", "monthly", "short"):
        m = metrics.get(path) or {}
        if m:
            rows.append((path, m["series"], m["combination_smape"], m["theta_smape"],
                         m["prophet_smape"], m["seasonal_naive_smape"],
                         f"{m['coverage_raw']:.2f} → {m['coverage']:.2f}"))
    return markdown_table(("path", "series", "combination sMAPE", "Theta", "Prophet",
                           "seasonal naive", "coverage (raw → scaled)"), rows, digits=2)


def plot_example(path: Path, transactions: list[dict], config: ForecastConfig) -> None:
    """One synthetic household: monthly history, forecast and its 80% interval."""
    history = build_history([HistoryItem(**t) for t in transactions],
                            HistoryLimits(max_points=10**6))
    result = forecast_spending(history, 12, 0.8, config).total
    fig, ax = pyplot().subplots(figsize=(9, 4))
    ax.plot(history.monthly.index.to_timestamp(), history.monthly.to_numpy(), label="history")
    months = result.months.to_timestamp()
    ax.plot(months, result.yhat, label=f"forecast ({result.method})")
    ax.fill_between(months, result.lower, result.upper, alpha=0.25, label="80% interval")
    ax.set_ylabel("₹ per month")
    ax.legend(loc="upper left")
    save_figure(fig, path, dpi=90)


def write_training_report(run: TrainingRun, users, fitted: ForecastConfig, train_cfg,
                          own: str | None = None) -> None:
    """`own` names a user's own file; else the households are the synthetic ones."""
    metrics = run.manifest["metrics"]
    longest = max(users, key=lambda u: len(u.transactions))
    plot_example(run.staging / "example_forecast.png", longest.transactions, fitted)
    households = (f"{len(users)} households of {own}" if own else
                  f"{len(users)} synthetic households (seed {train_cfg.seed}, "
                  f"{train_cfg.min_months}–{train_cfg.max_months} months each)")
    lines = [
        f"{households}; each forecast its last "
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
        image("example_forecast.png", "example forecast"),
    ]
    run.write_report("spending: training report", lines)


def write_m3_report(out: Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    s = result["smape"]
    lines = [
        "# spending: M3 monthly benchmark", "",
        f"{result['series']} series"
        + (f" (fixed-seed sample, seed {result['sample_seed']})" if result["sample_seed"] else
           " (all)")
        + f"; forecast = last 18 points; config from {result['config_from']}.", "",
        *markdown_table(("method", "sMAPE"), [
            (f"combination (Prophet weight {result['weight_prophet']})", s["combination"]),
            ("Theta (ours)", s["theta"]), ("Prophet (ours, bounded fit)", s["prophet"]),
            ("Naive2 (ours)", s["naive2"]), ("seasonal naive (ours)", s["seasonal_naive"]),
            *((f"{k} (published)", v) for k, v in result["published"].items())], digits=2), "",
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
