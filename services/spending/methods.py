"""Monthly forecasting methods that need no Prophet: Theta, Naive2 and seasonal naive.

Theta is the Assimakopoulos & Nikolopoulos (2000) method in Hyndman & Billah's (2003) form (SES
plus half the linear drift) after the M3 classical multiplicative seasonal adjustment. It is
written here in numpy because statsmodels' `ThetaModel.fit` (a SARIMAX fit underneath) took
300–600 ms a series on this machine, more than the whole forecast budget; the seasonality test
and decomposition are statsmodels' (`acf`, `seasonal_decompose`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.signal import lfilter
from scipy.stats import norm
from statsmodels.tsa.seasonal import seasonal_decompose
from statsmodels.tsa.stattools import acf

PERIOD = 12


@dataclass(frozen=True)
class MemberForecast:
    """One method's monthly forecast with its interval at the requested width."""

    method: str
    yhat: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def seasonal_pattern(y: np.ndarray, period: int = PERIOD) -> np.ndarray | None:
    """The multiplicative seasonal indices (length `period`, aligned with y[0]) when the
    90% ACF test at lag `period` finds seasonality, else None (the M3 Naive2 convention)."""
    n = len(y)
    if n < 2 * period or np.min(y) <= 0 or np.ptp(y) == 0:
        return None
    r = acf(y, nlags=period, fft=False)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[1:period] ** 2)) / n)
    if abs(r[period]) <= limit:
        return None
    seasonal = seasonal_decompose(y, model="multiplicative", period=period).seasonal
    return np.asarray(seasonal[:period], dtype=float)


def _indices(pattern: np.ndarray | None, start: int, count: int) -> np.ndarray:
    if pattern is None:
        return np.ones(count)
    return pattern[(start + np.arange(count)) % len(pattern)]


def ses_errors(y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """One-step errors and final level of simple exponential smoothing started at y[0]."""
    levels = lfilter([alpha], [1.0, alpha - 1.0], y[1:], zi=[(1.0 - alpha) * y[0]])[0]
    fitted = np.concatenate(([y[0]], levels[:-1]))
    return y[1:] - fitted, float(levels[-1]) if len(levels) else float(y[0])


def fit_ses_alpha(y: np.ndarray) -> float:
    if len(y) < 3:
        return 0.5
    result = minimize_scalar(
        lambda a: float(np.sum(ses_errors(y, a)[0] ** 2)), bounds=(0.01, 0.99),
        method="bounded", options={"xatol": 1e-4},
    )
    return float(result.x)


def theta_forecast(
    y: np.ndarray, horizon: int, width: float, seasonal: bool = True
) -> MemberForecast:
    """Theta(2) forecast; `seasonal=False` skips the seasonal adjustment (short histories)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    pattern = seasonal_pattern(y) if seasonal else None
    adjusted = y / _indices(pattern, 0, n)
    alpha = fit_ses_alpha(adjusted)
    errors, level = ses_errors(adjusted, alpha)
    drift = np.polyfit(np.arange(n), adjusted, 1)[0] if n > 1 else 0.0
    h = np.arange(1, horizon + 1)
    path = level + 0.5 * drift * ((h - 1) + 1 / alpha - (1 - alpha) ** n / alpha)
    sigma = float(np.sqrt(np.mean(errors**2))) if len(errors) else abs(level) * 0.1
    half = norm.ppf(0.5 + width / 2) * sigma * np.sqrt(1 + (h - 1) * alpha**2)
    season = _indices(pattern, n, horizon)
    name = "theta" if pattern is None else "theta_seasonal"
    return MemberForecast(name, path * season, (path - half) * season, (path + half) * season)


def naive2_forecast(y: np.ndarray, horizon: int) -> np.ndarray:
    """M3's Naive2: the last seasonally adjusted value, re-seasonalised."""
    y = np.asarray(y, dtype=float)
    pattern = seasonal_pattern(y)
    last = y[-1] / _indices(pattern, len(y) - 1, 1)[0]
    return last * _indices(pattern, len(y), horizon)


def seasonal_naive_forecast(y: np.ndarray, horizon: int, period: int = PERIOD) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if len(y) < period:
        return np.full(horizon, y[-1])
    return np.resize(y[-period:], horizon)
