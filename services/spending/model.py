"""The spending model: resolve each instance's history (inline or stored), forecast it (or
answer from the cache), and shape the answer. No HTTP in here."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from kit import Artifact, InvalidInput, ServedModel
from kit.model import validate_instances
from kit.quality import relative_error
from kit.stores import record_store
from services.spending.cache import ForecastCache, forecast_key
from services.spending.forecaster import ForecastConfig, MonthlyForecast, forecast_spending
from services.spending.history import (
    HistoryError,
    HistoryLimits,
    SpendingHistory,
    build_history,
)
from services.spending.schema import (
    ActualMonth,
    ForecastInstance,
    HistoryItem,
    SpendingPrediction,
    Transaction,
    forecast_input_schema,
)
from services.spending.settings import SpendingSettings

INSTANCE = TypeAdapter(ForecastInstance)


def month_forecast(prediction: dict[str, Any], actual: dict[str, Any]) -> float | None:
    """The forecast's expected spending for the labelled month (None: not in its horizon)."""
    return next((m["yhat"] for m in prediction.get("forecast", ())
                 if m["month"] == actual["month"]), None)


# A user's stored transactions live a year past their last upload (Redis TTL, and in process).
HISTORY_TTL = 366 * 86_400.0


class SpendingModel(ServedModel):
    """Monthly spending forecasts with intervals; the artifact holds the forecast configuration
    and its fitted parameters (combination weights, interval scale)."""

    name = "spending"
    prediction_model = SpendingPrediction
    offload = True  # a forecast fits Prophet: tens to hundreds of milliseconds
    log_user_fields = ("user_id",)
    outcome_label = ActualMonth

    @classmethod
    def live_quality(cls, pairs: list[tuple[Any, Any]]) -> dict[str, float]:
        return relative_error(pairs, month_forecast, lambda y: y["amount"])

    def __init__(self, settings: SpendingSettings) -> None:
        super().__init__(settings)
        self.store = record_store(
            settings.redis_url, "spending", settings.max_transactions_per_user
        )
        self.cache = ForecastCache(settings.cache_size)
        self.limits = HistoryLimits(
            min_months=settings.min_history_months, max_months=settings.max_history_months,
            max_points=settings.max_history_points, max_categories=settings.max_categories,
        )
        self.config = ForecastConfig()

    def load(self, artifact: Artifact) -> None:
        super().load(artifact)
        self.config = ForecastConfig.from_dict(artifact.manifest["parameters"]["forecast"])
        self._warm_up()

    def _warm_up(self) -> None:
        """Load Stan's model and Prophet's imports now, not in the first caller's request."""
        months = pd.period_range("2020-01", periods=30, freq="M")
        series = pd.Series(100.0 + np.arange(30) % 12, index=months)
        from services.spending.forecaster import forecast_series

        forecast_series(series, 1, 0.8, self.config)

    def adopt_state(self, previous: ServedModel) -> None:
        """The users' stored transactions outlive a model version (forecasts do not: the
        cache stays with the version that made them)."""
        self.close()
        self.store = previous.store  # type: ignore[attr-defined]

    def input_schema(self) -> dict[str, Any]:
        return forecast_input_schema()

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "cache": self.cache.stats()}

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close:
            close()

    def ingest(self, user_id: str, transactions: list[Transaction]) -> int:
        records = [t.model_dump(mode="json") for t in transactions]
        return self.store.append(user_id, records, HISTORY_TTL)

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        """Forecasts, reading (never writing) the users' stored transactions: per-user state
        changes only through `ingest`. The one write is this version's own forecast cache, keyed
        by the history, so a shadow prediction (the kit's default `predict_shadow`: this) writes
        no user state either; at most it warms the candidate's cache."""
        parsed: list[ForecastInstance] = validate_instances(INSTANCE, instances)
        answers: list[dict[str, Any] | None] = []
        pending, errors = [], []
        for i, (raw, instance) in enumerate(zip(instances, parsed, strict=True)):
            try:
                records = self._records(raw, instance)
                key = self._key(instance, records)
                cached = self.cache.get(key)
                answers.append({**cached, "cached": True} if cached else None)
                if cached is None:
                    items = instance.history if instance.history is not None else [
                        HistoryItem(**r) for r in records]
                    history = build_history(items, self.limits, instance.as_of)
                    pending.append((i, instance, history, key))
            except HistoryError as exc:
                errors.append({"field": f"instances[{i}].{exc.field}", "message": exc.message,
                               "type": "value_error"})
        if errors:
            raise InvalidInput(f"{len(errors)} invalid field(s) in the instances", errors=errors)
        for i, instance, history, key in pending:
            answer = self._forecast(instance, history)
            self.cache.put(key, answer)
            answers[i] = {**answer, "cached": False}
        return answers

    def drift_features(self, instances: list[Any], predictions: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        """The request's options, an inline history's size and level (its monthly mean, last
        month, median transaction) and the answer: method, monthly forecast, interval width
        relative to it. A stored history (`user_id`) adds no history features. About 2 ms per
        thousand history items, a hundredth of the forecast itself."""
        return [{**history_features(instance.get("history")),
                 "horizon_months": instance.get("horizon_months"),
                 "by_category": bool(instance.get("by_category", False)),
                 **forecast_features(prediction)}
                for instance, prediction in zip(instances, predictions, strict=True)]

    def _records(self, raw: dict[str, Any], instance: ForecastInstance) -> list[dict[str, Any]]:
        """The history as the caller sent it, or the user's stored transactions by date."""
        if instance.history is not None:
            return raw["history"]
        records = self.store.recent(instance.user_id)
        if not records:
            raise HistoryError("user_id", f"no transactions stored for user {instance.user_id!r}")
        records.sort(key=lambda r: r["date"])  # batches may arrive in any order
        return records

    def _key(self, instance: ForecastInstance, records: list[dict[str, Any]]) -> str:
        """Everything that decides the answer: model version and configuration, the request's
        options and the history itself (hashed as sent, so a hit skips all parsing)."""
        return forecast_key(
            self.version, self.config.to_dict(), self._width(instance), instance.horizon_months,
            instance.by_category, str(instance.as_of), records,
        )

    def _width(self, instance: ForecastInstance) -> float:
        return instance.interval_width or self.settings.interval_width

    def _forecast(self, instance: ForecastInstance, history: SpendingHistory) -> dict[str, Any]:
        started = time.perf_counter()
        width = self._width(instance)
        result = forecast_spending(
            history, instance.horizon_months, width, self.config, instance.by_category
        )
        answer = {
            **_shape(result.total),
            "interval_width": width,
            "history_months": history.months,
            "history_kind": "transactions" if history.daily is not None else "monthly",
            "fit_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if instance.by_category:
            answer["categories"] = {name: _shape(part) for name, part in result.categories.items()}
        return answer


def history_features(history: list[dict[str, Any]] | None) -> dict[str, Any]:
    if not history:
        return {}
    by_month: dict[str, float] = {}
    for item in history:
        month = str(item.get("month") or str(item.get("date"))[:7])
        by_month[month] = by_month.get(month, 0.0) + float(item["amount"])
    months = sorted(by_month)
    return {"history.points": len(history), "history.months": len(months),
            "history.monthly_mean": round(sum(by_month.values()) / len(months), 2),
            "history.last_month": round(by_month[months[-1]], 2),
            "history.median_amount": float(np.median([float(i["amount"]) for i in history]))}


def forecast_features(prediction: dict[str, Any]) -> dict[str, Any]:
    total = prediction["total"]
    months = max(len(prediction["forecast"]), 1)
    return {"output.method": prediction["method"],
            "output.monthly_yhat": round(total["yhat"] / months, 2),
            "output.interval_ratio": round((total["upper"] - total["lower"])
                                           / max(abs(total["yhat"]), 1.0), 4)}


def _shape(forecast: MonthlyForecast) -> dict[str, Any]:
    months = [
        {"month": str(m), "yhat": round(float(y), 2), "lower": round(float(lo), 2),
         "upper": round(float(hi), 2)}
        for m, y, lo, hi in zip(forecast.months, forecast.yhat, forecast.lower, forecast.upper,
                                strict=True)
    ]
    total = {k: round(v, 2) for k, v in forecast.total().items()}
    return {"method": forecast.method, "forecast": months, "total": total}
