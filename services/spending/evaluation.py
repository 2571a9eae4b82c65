"""Accuracy measures and the two evaluations: synthetic holdouts (training) and M3 (benchmark).

Both compute every method's forecast once per series and then score the combination for any
weight, so the weight grid costs no extra fits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.spending.data import M3Series
from services.spending.forecaster import ForecastConfig, combine, shape_intervals
from services.spending.methods import (
    MemberForecast,
    naive2_forecast,
    seasonal_naive_forecast,
    theta_forecast,
)
from services.spending.prophet_models import prophet_daily, prophet_monthly

# Published M3 monthly sMAPE (Makridakis & Hibon, 2000), for the report.
M3_PUBLISHED = {"Theta": 13.85, "ForecastPro": 13.86, "Naive2": 16.91}


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, as in the M3 competition (0 where both are 0)."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(np.abs(actual - forecast), denominator, out=np.zeros_like(denominator),
                      where=denominator > 0)
    return float(200 * np.mean(ratio))


@dataclass
class SeriesCase:
    """One series' members on its holdout: what weights and scales are scored from."""

    actual: np.ndarray
    history: np.ndarray
    theta: MemberForecast
    prophet: MemberForecast | None
    baselines: dict[str, np.ndarray]


def combined(case: SeriesCase, weight: float, config: ForecastConfig, scale: float = 1.0):
    _, yhat, lower, upper = combine(case.theta, case.prophet, weight, case.history, config)
    return shape_intervals(yhat, lower, upper, scale, nonnegative=True)


def mean_smape(cases: list[SeriesCase], weight: float, config: ForecastConfig) -> float:
    return float(np.mean([smape(c.actual, combined(c, weight, config)[0]) for c in cases]))


def inside(cases: list[SeriesCase], weight: float, config: ForecastConfig,
           scale: float) -> np.ndarray:
    """Whether each held-out month fell inside its interval."""
    hits = [np.zeros(0, bool)]
    for case in cases:
        _, lower, upper = combined(case, weight, config, scale)
        hits.append((case.actual >= lower) & (case.actual <= upper))
    return np.concatenate(hits)


def coverage(cases: list[SeriesCase], weight: float, config: ForecastConfig, scale: float) -> float:
    hits = inside(cases, weight, config, scale)
    return float(np.mean(hits)) if len(hits) else float("nan")


def best_weight(cases: list[SeriesCase], config: ForecastConfig, grid: Iterable[float]) -> float:
    scores = {round(float(w), 2): mean_smape(cases, w, config) for w in grid}
    return min(scores, key=scores.get)


def best_scale(groups: list[tuple[list[SeriesCase], float]], config: ForecastConfig,
               width: float, grid: Iterable[float]) -> float:
    """The interval scale whose holdout coverage (over all groups of cases, each combined at
    its own weight) is closest to the nominal width."""
    def gap(scale: float) -> float:
        hits = np.concatenate([inside(cases, w, config, scale) for cases, w in groups])
        return abs(float(np.mean(hits)) - width)

    return min(grid, key=gap)


def m3_case(series: M3Series, config: ForecastConfig, width: float = 0.8) -> SeriesCase:
    """Theta, Prophet (no Indian holidays: M3 is not Indian spending), Naive2 and seasonal
    naive on one M3 series, forecasting its 18 test months."""
    horizon = len(series.test)
    y = series.train
    monthly = pd.Series(y, index=pd.period_range(series.start, periods=len(y), freq="M"))
    theta = theta_forecast(y, horizon, width, seasonal=len(y) >= config.seasonal_min_months)
    try:
        prophet = prophet_monthly(monthly, horizon, width, config.prophet, festivals=False)
    except (RuntimeError, TimeoutError, ValueError):
        prophet = None
    baselines = {"naive2": naive2_forecast(y, horizon),
                 "seasonal_naive": seasonal_naive_forecast(y, horizon)}
    return SeriesCase(series.test, y, theta, prophet, baselines)


def m3_table(cases: list[SeriesCase], config: ForecastConfig, weight: float) -> dict[str, float]:
    """Mean sMAPE per method over the cases, the combination at `weight` included."""
    rows = {
        "combination": mean_smape(cases, weight, config),
        "theta": float(np.mean([smape(c.actual, c.theta.yhat) for c in cases])),
        "prophet": float(np.mean([smape(c.actual, (c.prophet or c.theta).yhat) for c in cases])),
    }
    for name in ("naive2", "seasonal_naive"):
        rows[name] = float(np.mean([smape(c.actual, c.baselines[name]) for c in cases]))
    return rows


def daily_case(daily: pd.Series, monthly: pd.Series, actual: np.ndarray,
               config: ForecastConfig, width: float = 0.8) -> SeriesCase:
    """The service's transaction path on one synthetic user: Theta on the monthly totals and
    Prophet on the daily totals, forecasting the held-out months."""
    horizon = len(actual)
    y = monthly.to_numpy(dtype=float)
    theta = theta_forecast(y, horizon, width, seasonal=len(y) >= config.seasonal_min_months)
    prophet = None
    if len(daily) >= config.daily_min_days:
        try:
            prophet = prophet_daily(daily, horizon, width, config.prophet)
        except (RuntimeError, TimeoutError, ValueError):
            prophet = None
    baselines = {"seasonal_naive": seasonal_naive_forecast(y, horizon),
                 "naive2": naive2_forecast(y, horizon)}
    return SeriesCase(actual, y, theta, prophet, baselines)
