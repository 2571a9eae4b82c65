"""`forecast_spending`: pick the methods a history supports, combine them under a guard, and
shape monthly intervals and totals.

- Every history gets Theta (seasonally adjusted from 24 months on; below that, Theta without
  seasonality: simple exponential smoothing plus half the linear drift — the short-history
  method).
- Histories of at least `prophet_min_months` months also get Prophet on monthly totals (yearly
  seasonality plus a Diwali-days regressor); shorter transaction histories of at least
  `daily_min_days` days (a year) get Prophet on daily totals with Indian festival windows. On the
  synthetic holdouts the monthly model beat the daily one by far once two years were known
  (yearly seasonality needs them), and it is cheaper.
- The answer is the weighted mean of the two (weights and interval scale are the artifact's
  fitted parameters), unless Prophet fails, times out or strays more than `guard_ratio` from
  Theta's level: then Theta answers alone and the method says why.
- Per-category forecasts use Theta and are scaled so that, month by month, they add up to the
  total forecast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from services.spending.history import SpendingHistory
from services.spending.methods import MemberForecast, theta_forecast
from services.spending.prophet_models import ProphetSettings, prophet_daily, prophet_monthly


@dataclass(frozen=True)
class ForecastConfig:
    """Everything that decides a forecast; stored in (and read from) the artifact."""

    prophet: ProphetSettings = field(default_factory=ProphetSettings)
    seasonal_min_months: int = 24
    prophet_min_months: int = 24
    daily_min_days: int = 365
    weight_prophet_monthly: float = 0.3
    weight_prophet_daily: float = 0.5
    guard_ratio: float = 2.0
    interval_scale: float = 1.0
    holidays: bool = True
    use_prophet: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastConfig:
        data = dict(data)
        prophet = ProphetSettings(**data.pop("prophet", {}))
        return cls(prophet=prophet, **data)

    def with_(self, **changes: Any) -> ForecastConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class MonthlyForecast:
    method: str
    months: pd.PeriodIndex
    yhat: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def total(self) -> dict[str, float]:
        """Horizon total; its bounds add the monthly bounds (errors taken as fully correlated,
        which is conservative: the true interval of the sum is no wider)."""
        return {"yhat": float(self.yhat.sum()), "lower": float(self.lower.sum()),
                "upper": float(self.upper.sum())}


@dataclass(frozen=True)
class SpendingForecast:
    total: MonthlyForecast
    categories: dict[str, MonthlyForecast]


def _plausible(
    candidate: MemberForecast, anchor: MemberForecast, y: np.ndarray, ratio: float
) -> bool:
    """Prophet is kept only when finite and its mean level is within `ratio` of Theta's."""
    if not all(np.all(np.isfinite(a)) for a in (candidate.yhat, candidate.lower, candidate.upper)):
        return False
    scale = max(abs(float(np.mean(anchor.yhat))), float(np.mean(np.abs(y[-12:]))), 1e-9)
    return abs(float(np.mean(candidate.yhat)) - float(np.mean(anchor.yhat))) <= (ratio - 1) * scale


def _prophet_member(
    monthly: pd.Series, daily: pd.Series | None, horizon: int, width: float, config: ForecastConfig
) -> tuple[MemberForecast | None, float]:
    """From two years on, Prophet on monthly totals (yearly seasonality and Diwali days); below
    that, for transactions of a year or more, Prophet on daily totals with the festival windows
    (a year has seen every festival once). A member whose fitted weight is 0 is not fitted."""
    if len(monthly) >= config.prophet_min_months:
        if config.weight_prophet_monthly <= 0:
            return None, 0.0
        member = prophet_monthly(monthly, horizon, width, config.prophet, config.holidays)
        return member, config.weight_prophet_monthly
    if daily is not None and len(daily) >= config.daily_min_days:
        if config.weight_prophet_daily <= 0:
            return None, 0.0
        return prophet_daily(daily, horizon, width, config.prophet), config.weight_prophet_daily
    return None, 0.0


def combine(
    anchor: MemberForecast, member: MemberForecast | None, weight: float, y: np.ndarray,
    config: ForecastConfig,
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean of Theta and Prophet (point and bounds alike), guarded."""
    if member is None or weight <= 0:
        return anchor.method, anchor.yhat, anchor.lower, anchor.upper
    if not _plausible(member, anchor, y, config.guard_ratio):
        return f"{anchor.method} (prophet guarded out)", anchor.yhat, anchor.lower, anchor.upper
    method = f"{member.method}+{anchor.method}" if weight < 1 else member.method
    mix = [weight * a + (1 - weight) * b for a, b in (
        (member.yhat, anchor.yhat), (member.lower, anchor.lower), (member.upper, anchor.upper))]
    return method, *mix


def shape_intervals(
    yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray, scale: float, nonnegative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale the half-widths by the fitted `interval_scale`; keep lower <= yhat <= upper."""
    lower = yhat - scale * np.maximum(yhat - lower, 0)
    upper = yhat + scale * np.maximum(upper - yhat, 0)
    if nonnegative:
        yhat, lower, upper = (np.maximum(a, 0.0) for a in (yhat, lower, upper))
    return yhat, lower, upper


def forecast_series(
    monthly: pd.Series,
    horizon: int,
    width: float,
    config: ForecastConfig,
    daily: pd.Series | None = None,
    nonnegative: bool = True,
) -> MonthlyForecast:
    """Forecast one monthly series `horizon` months past its last month."""
    y = monthly.to_numpy(dtype=float)
    months = pd.period_range(monthly.index[-1] + 1, periods=horizon, freq="M")
    anchor = theta_forecast(y, horizon, width, seasonal=len(y) >= config.seasonal_min_months)
    member, weight, failed = None, 0.0, False
    if config.use_prophet:
        try:
            member, weight = _prophet_member(monthly, daily, horizon, width, config)
        except (RuntimeError, TimeoutError, ValueError):
            failed = True
    method, yhat, lower, upper = combine(anchor, member, weight, y, config)
    if failed:
        method = f"{anchor.method} (prophet failed)"
    yhat, lower, upper = shape_intervals(yhat, lower, upper, config.interval_scale, nonnegative)
    return MonthlyForecast(method, months, yhat, lower, upper)


def forecast_spending(
    history: SpendingHistory, horizon: int, width: float, config: ForecastConfig,
    by_category: bool = False,
) -> SpendingForecast:
    total = forecast_series(history.monthly, horizon, width, config, daily=history.daily)
    categories = {}
    if by_category:
        fast = config.with_(use_prophet=False)
        raw = {name: forecast_series(series, horizon, width, fast)
               for name, series in history.categories.items()}
        categories = _reconcile(raw, total)
    return SpendingForecast(total, categories)


def _reconcile(
    parts: dict[str, MonthlyForecast], total: MonthlyForecast
) -> dict[str, MonthlyForecast]:
    """Scale category forecasts month by month so they add up to the total forecast."""
    if not parts:
        return {}
    summed = np.sum([p.yhat for p in parts.values()], axis=0)
    factor = np.divide(total.yhat, summed, out=np.ones_like(summed), where=summed > 0)
    return {
        name: replace(part, method=f"{part.method} (reconciled)", yhat=part.yhat * factor,
                      lower=part.lower * factor, upper=part.upper * factor)
        for name, part in parts.items()
    }
