"""The spending service's contract: forecast instances, their answer, ingested transactions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
USER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

Amount = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Category = Annotated[str, Field(min_length=1, max_length=40)]


class HistoryItem(BaseModel):
    """One transaction (`date`) or one monthly total (`month`), never both."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = None
    month: Annotated[str, Field(pattern=MONTH_PATTERN)] | None = None
    amount: Amount
    category: Category | None = None

    @model_validator(mode="after")
    def _one_time_field(self) -> HistoryItem:
        if (self.date is None) == (self.month is None):
            raise ValueError("give exactly one of `date` (a transaction) or `month` (a total)")
        return self


class ForecastInstance(BaseModel):
    """A forecast request: a history given inline or the `user_id` whose stored history to use."""

    model_config = ConfigDict(extra="forbid")

    history: list[HistoryItem] | None = None
    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN)] | None = None
    horizon_months: Annotated[int, Field(ge=1, le=12)]
    by_category: bool = False
    interval_width: Annotated[float, Field(ge=0.5, le=0.99)] | None = None
    as_of: dt.date | None = Field(
        None, description="transactions are complete up to this date (default: the last one)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ForecastInstance:
        if (self.history is None) == (self.user_id is None):
            raise ValueError("give exactly one of `history` or `user_id`")
        return self


class Transaction(BaseModel):
    """A stored transaction: what the ingest route accepts."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date
    amount: Amount
    category: Category | None = None


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transactions: Annotated[list[Transaction], Field(min_length=1)]


class IngestResponse(BaseModel):
    user_id: str
    accepted: int
    stored: int


class MonthForecast(BaseModel):
    month: str = Field(pattern=MONTH_PATTERN)
    yhat: float = Field(description="Expected spending, in the history's currency")
    lower: float
    upper: float


class ForecastTotal(BaseModel):
    yhat: float
    lower: float
    upper: float


class Forecast(BaseModel):
    method: str = Field(description="The method chosen for this history (theta, prophet, ...)")
    forecast: list[MonthForecast]
    total: ForecastTotal = Field(description="The whole horizon, with its own interval")


class SpendingPrediction(Forecast):
    """A monthly forecast with intervals, the total, and how it was made."""

    interval_width: float
    history_months: int
    history_kind: Literal["transactions", "monthly"]
    fit_ms: float
    cached: bool = Field(description="Answered from the service's forecast cache")
    categories: dict[str, Forecast] | None = Field(
        None, description="Per category, when the request asked `by_category`")


class ActualMonth(BaseModel):
    """An outcome's label: what one forecast month actually came to."""

    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN)
    amount: float = Field(ge=0, allow_inf_nan=False)


def forecast_input_schema() -> dict[str, Any]:
    """The instance JSON schema served on `GET /v1/models/spending`."""
    return ForecastInstance.model_json_schema()
