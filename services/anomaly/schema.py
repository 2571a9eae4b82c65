"""The anomaly service's contract: a transaction to score, its answer, and feedback on it."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Id = Annotated[str, Field(min_length=1, max_length=128)]
EARLIEST, LATEST = datetime(1970, 1, 2), datetime(2100, 12, 31)
Label = Annotated[str, Field(max_length=64)]


class Transaction(BaseModel):
    """One card/UPI transaction. `merchant` or `terminal_id` names where the money went."""

    model_config = ConfigDict(extra="forbid")

    timestamp: datetime
    amount: float = Field(ge=0, description="amount in rupees; never negative")
    merchant: Id | None = None
    terminal_id: Id | None = None
    category: Label | None = None
    channel: Label | None = None
    description: Annotated[str, Field(max_length=500)] | None = None

    @field_validator("timestamp")
    @classmethod
    def plausible_time(cls, value: datetime) -> datetime:
        """Years 1970–2100 (a card or UPI payment), which also keeps every time-zone
        conversion inside the calendar ("0001-01-01T00:00:00+14:00" is before year 1 in UTC)."""
        if not EARLIEST <= value.replace(tzinfo=None) <= LATEST:
            raise ValueError("timestamp must be between 1970 and 2100")
        return value

    @field_validator("amount")
    @classmethod
    def finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("amount must be a finite number")
        return value

    @model_validator(mode="after")
    def has_counterparty(self) -> Transaction:
        if not self.merchant and not self.terminal_id:
            raise ValueError("give merchant or terminal_id")
        return self

    @property
    def counterparty(self) -> str:
        return self.merchant or f"terminal:{self.terminal_id}"


class AnomalyInstance(BaseModel):
    """One predict instance: whose transaction it is, and the transaction."""

    model_config = ConfigDict(extra="forbid")

    user_id: Id
    transaction_id: Id | None = None
    transaction: Transaction


class AnomalyPrediction(BaseModel):
    """How unusual one transaction is for its user, and why."""

    transaction_id: str = Field(description="The caller's id, or a new one to send feedback on")
    score: float = Field(ge=0, le=1, description="Isolation Forest anomaly score; ~0.5 ordinary")
    is_anomaly: bool = Field(description="score ≥ the model's calibrated threshold")
    reasons: list[str] = Field(description="The most unusual features, in words")


FeedbackLabel = Literal["fraud", "genuine"]


class Feedback(BaseModel):
    """A confirmed outcome for a scored transaction (fraud or genuine)."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: Id
    label: FeedbackLabel
    note: Annotated[str, Field(max_length=500)] | None = None


