import numpy as np
import pandas as pd
import pytest

from services.spending.evaluation import smape
from services.spending.forecaster import ForecastConfig, combine, forecast_series
from services.spending.history import HistoryLimits, build_history
from services.spending.methods import (
    MemberForecast,
    naive2_forecast,
    seasonal_naive_forecast,
    theta_forecast,
)
from services.spending.prophet_models import prophet_daily
from services.spending.schema import HistoryItem

from .conftest import daily_transactions, monthly_history


def history_of(items, **kwargs):
    return build_history([HistoryItem(**i) for i in items], HistoryLimits(), **kwargs)


def test_forecast_shape_and_ordered_intervals():
    history = history_of(monthly_history(36))
    result = forecast_series(history.monthly, 6, 0.8, ForecastConfig())
    assert [str(m) for m in result.months] == [str(p) for p in pd.period_range(
        "2022-01", periods=6, freq="M")]
    assert result.method.startswith("prophet+theta")
    assert np.all(result.lower <= result.yhat) and np.all(result.yhat <= result.upper)
    assert np.all(result.upper - result.lower > 0)
    assert result.total()["yhat"] == pytest.approx(result.yhat.sum())


def test_wider_interval_contains_narrower():
    history = history_of(monthly_history(30))
    narrow = forecast_series(history.monthly, 12, 0.5, ForecastConfig())
    wide = forecast_series(history.monthly, 12, 0.95, ForecastConfig())
    np.testing.assert_allclose(narrow.yhat, wide.yhat)
    assert np.all(wide.lower <= narrow.lower) and np.all(wide.upper >= narrow.upper)
    assert np.all(wide.upper - wide.lower > narrow.upper - narrow.lower)


def test_diwali_spike_is_learned_from_daily_history():
    """A history whose only Diwali (12 Nov 2023) came with a 10x spending spike: the forecast
    puts a spike on the next Diwali (31 Oct 2024, so October) and none without the spike."""
    spiked = history_of(daily_transactions("2023-01-01", "2024-02-29",
                                           spike=("2023-11-05", "2023-11-13")))
    plain = history_of(daily_transactions("2023-01-01", "2024-02-29"))
    settings = ForecastConfig().prophet
    with_spike = prophet_daily(spiked.daily, 10, 0.8, settings)
    without = prophet_daily(plain.daily, 10, 0.8, settings)
    october = 7  # March 2024 + 7 months
    others = np.delete(with_spike.yhat, october)
    assert with_spike.yhat[october] > 1.3 * np.median(others)
    assert without.yhat[october] < 1.1 * np.median(np.delete(without.yhat, october))
    combined = forecast_series(spiked.monthly, 10, 0.8, ForecastConfig(weight_prophet_daily=0.5),
                               daily=spiked.daily)
    assert combined.method == "prophet_daily+theta"
    assert combined.yhat[october] > 1.1 * np.median(np.delete(combined.yhat, october))


def test_short_history_uses_theta_without_prophet():
    history = history_of(monthly_history(3))
    result = forecast_series(history.monthly, 4, 0.8, ForecastConfig())
    assert result.method == "theta"
    assert len(result.yhat) == 4
    assert np.all(np.isfinite(result.yhat)) and np.all(result.lower <= result.upper)
    level = history.monthly.mean()
    assert 0.5 * level < result.yhat[0] < 1.5 * level


def test_guard_drops_a_wild_prophet_member():
    y = np.full(30, 100.0)
    anchor = MemberForecast("theta", np.full(3, 100.0), np.full(3, 90.0), np.full(3, 110.0))
    wild = MemberForecast("prophet", np.full(3, 900.0), np.full(3, 800.0), np.full(3, 1000.0))
    sane = MemberForecast("prophet", np.full(3, 120.0), np.full(3, 100.0), np.full(3, 140.0))
    config = ForecastConfig()
    method, yhat, _, _ = combine(anchor, wild, 0.5, y, config)
    assert method == "theta (prophet guarded out)" and np.all(yhat == 100.0)
    method, yhat, lower, upper = combine(anchor, sane, 0.5, y, config)
    assert method == "prophet+theta"
    np.testing.assert_allclose(yhat, 110.0)
    np.testing.assert_allclose(lower, 95.0)
    np.testing.assert_allclose(upper, 125.0)


def test_theta_finds_seasonality_and_tracks_it():
    months = np.arange(48)
    y = 1000 * (1 + 0.3 * np.sin(2 * np.pi * months / 12)) + 5 * months
    forecast = theta_forecast(y, 12, 0.8)
    assert forecast.method == "theta_seasonal"
    truth = 1000 * (1 + 0.3 * np.sin(2 * np.pi * np.arange(48, 60) / 12)) + 5 * np.arange(48, 60)
    assert smape(truth, forecast.yhat) < 3.0
    assert theta_forecast(np.linspace(10, 20, 48), 3, 0.8).method == "theta"


def test_naive_baselines():
    y = np.tile(np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 3)
    np.testing.assert_allclose(seasonal_naive_forecast(y, 14), [*range(1, 13), 1, 2])
    flat = np.full(36, 5.0)
    np.testing.assert_allclose(naive2_forecast(flat, 3), [5.0, 5.0, 5.0])


def test_smape_matches_the_m3_definition():
    assert smape(np.array([100.0, 0.0]), np.array([100.0, 0.0])) == 0.0
    assert smape(np.array([100.0]), np.array([50.0])) == pytest.approx(200 * 50 / 150)
