"""The intent service's contract: its label set, one request instance, one prediction."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

OUT_OF_SCOPE = "out_of_scope"


INTENTS: tuple[str, ...] = (
    "check_balance",
    "spending_summary",
    "budget_status",
    "transaction_search",
    "bill_payment",
    "savings_goal",
    "investment_advice",
    "loan_affordability",
    "credit_score",
    "tax_saving",
    "fraud_report",
    "spending_forecast",
    "account_management",
    "greeting",
)

LABELS: tuple[str, ...] = (*INTENTS, OUT_OF_SCOPE)
# An outcome's label (POST /v1/models/intent/outcomes): the intent the query really was, one of
# the served version's labels (the shipped ones, or a user's own: docs/own-data.md).
IntentLabel = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


def instance_adapter(max_text_length: int) -> TypeAdapter:
    """Validates one instance; the text limit comes from settings, so it is built per model."""
    constrained = Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_text_length)
    ]

    class IntentInstance(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: constrained = Field(description="The user's message", examples=["what's my balance?"])

    return TypeAdapter(IntentInstance)


class Alternative(BaseModel):
    label: str
    confidence: float


class IntentPrediction(BaseModel):
    """One answer: the label (or out_of_scope), its confidence, and the next three labels."""

    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    alternatives: list[Alternative]
