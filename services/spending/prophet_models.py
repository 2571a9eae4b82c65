"""Prophet members with bounded fit time: daily with Indian holidays, monthly with a festival
regressor.

Why Prophet's defaults were slow on short monthly series: below 100 points Prophet asks Stan for
Newton's method, and on monthly data its defaults (yearly seasonality of Fourier order 10, i.e.
20 terms, of which monthly sampling can identify at most 11, plus up to 25 changepoints) give
about as many parameters as points. The posterior mode is then degenerate (the noise scale
heads to zero), Newton's dense Hessian steps crawl along flat directions and a 2-year series
took seconds. We fit with L-BFGS, an order-4 yearly term on monthly data, one changepoint per
`points_per_changepoint` months, an iteration cap and a wall-clock timeout, and accept the last
iterate rather than fall back to Newton.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.spending.features import festival_days, festival_flags, month_starts
from services.spending.methods import MemberForecast


def silence_stan_logs() -> None:
    """cmdstanpy and Prophet log every fit at INFO (and install their own handlers on import)."""
    for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.models"):
        log = logging.getLogger(name)
        if not log.handlers:
            log.addHandler(logging.NullHandler())
        log.setLevel(logging.CRITICAL)
        log.propagate = False


silence_stan_logs()  # before the import too: prophet.plot logs a plotly notice on import

from prophet import Prophet  # noqa: E402

silence_stan_logs()  # cmdstanpy resets its logger's level on import


@dataclass(frozen=True)
class ProphetSettings:
    yearly_order_monthly: int = 4
    yearly_order_daily: int = 4
    weekly_order: int = 3
    points_per_changepoint: int = 6
    max_changepoints: int = 10
    changepoint_prior_scale: float = 0.05
    holidays_prior_scale: float = 10.0
    max_iter: int = 1000
    timeout_s: float = 2.0
    samples: int = 300
    daily_window_days: int = 400
    seed: int = 0


def _fit(model: Prophet, frame: pd.DataFrame, settings: ProphetSettings) -> Prophet:
    return model.fit(
        frame, algorithm="LBFGS", iter=settings.max_iter, require_converged=False,
        timeout=settings.timeout_s,
    )


def _from_samples(model: Prophet, future: pd.DataFrame, settings: ProphetSettings,
                  width: float, month_starts_at: np.ndarray | None = None):
    """Point forecast (the median) and interval from Prophet's predictive sample paths, summed
    per month when the rows are days. One sampling pass serves both, so `predict` is skipped."""
    model.uncertainty_samples = settings.samples
    np.random.seed(settings.seed)
    samples = model.predictive_samples(future)["yhat"]
    if month_starts_at is not None:
        samples = np.add.reduceat(samples, month_starts_at, axis=0)
    tail = (1 - width) / 2
    lower, yhat, upper = np.quantile(samples, [tail, 0.5, 1 - tail], axis=1)
    return yhat, lower, upper


def _changepoints(points: int, settings: ProphetSettings) -> int:
    return int(min(settings.max_changepoints, max(1, points // settings.points_per_changepoint)))


def prophet_monthly(
    monthly: pd.Series, horizon: int, width: float, settings: ProphetSettings,
    festivals: bool = True,
) -> MemberForecast:
    """Prophet on monthly totals: yearly seasonality from two years on, a Diwali-days regressor
    when the history has seen Diwali move between months."""
    months = monthly.index
    n = len(monthly)
    model = Prophet(
        yearly_seasonality=settings.yearly_order_monthly if n >= 24 else False,
        weekly_seasonality=False, daily_seasonality=False,
        n_changepoints=_changepoints(n, settings), changepoint_range=0.9,
        changepoint_prior_scale=settings.changepoint_prior_scale, uncertainty_samples=0,
    )
    future_index = pd.period_range(months[-1] + 1, periods=horizon, freq="M")
    frame = pd.DataFrame({"ds": month_starts(months), "y": monthly.to_numpy()})
    future = pd.DataFrame({"ds": month_starts(future_index)})
    if festivals:
        diwali = festival_days(months)
        if np.ptp(diwali) > 0 and n >= 24:
            model.add_regressor("diwali_days", prior_scale=settings.holidays_prior_scale)
            frame["diwali_days"] = diwali
            future["diwali_days"] = festival_days(future_index)
    _fit(model, frame, settings)
    return MemberForecast("prophet", *_from_samples(model, future, settings, width))


def prophet_daily(
    daily: pd.Series, horizon: int, width: float, settings: ProphetSettings,
) -> MemberForecast:
    """Prophet on the recent daily totals with weekly seasonality and Indian festival windows
    (Diwali, Dussehra, Holi, Eid al-Fitr, Christmas, other public holidays) as regressors.
    Yearly seasonality (a low order) joins once the window spans two years. Each forecast
    month is the sum of its days; its interval comes from summing whole sample paths."""
    daily = daily.iloc[-settings.daily_window_days:]
    span_days = (daily.index[-1] - daily.index[0]).days
    last_month = daily.index[-1].to_period("M")
    future_index = pd.period_range(last_month + 1, periods=horizon, freq="M")
    future_days = pd.date_range(future_index[0].start_time,
                                future_index[-1].end_time.normalize(), freq="D")
    model = Prophet(
        yearly_seasonality=settings.yearly_order_daily if span_days >= 730 else False,
        weekly_seasonality=settings.weekly_order if len(daily) >= 14 else False,
        daily_seasonality=False,
        n_changepoints=_changepoints(len(daily) // 30, settings), changepoint_range=0.9,
        changepoint_prior_scale=settings.changepoint_prior_scale, uncertainty_samples=0,
    )
    flags = festival_flags(daily.index.append(future_days))
    frame = pd.DataFrame({"ds": daily.index, "y": daily.to_numpy()})
    future = pd.DataFrame({"ds": future_days})
    for column in flags.columns:
        seen = flags.loc[daily.index, column].to_numpy()
        if seen.any():  # a festival never seen in the history has no effect to learn
            model.add_regressor(column, prior_scale=settings.holidays_prior_scale,
                                standardize=False)
            frame[column] = seen
            future[column] = flags.loc[future_days, column].to_numpy()
    _fit(model, frame, settings)
    starts = np.searchsorted(future_days, future_index.start_time)
    return MemberForecast("prophet_daily", *_from_samples(model, future, settings, width, starts))
