"""The ner service's contract: one request instance, one predicted entity, one answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# The built-in labels; a version trained on a user's own sentences adds theirs (its manifest's
# `labels`, shown by GET /v1/models/ner).
BUILT_IN_LABELS = ("MONEY", "DATE", "CATEGORY", "MERCHANT", "ACCOUNT")


class NerInstance(BaseModel):
    """One text to tag; relative dates ("last month") resolve against `reference_date`."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="the text to tag (may be empty)")
    reference_date: date | None = Field(
        default=None, description="ISO date that relative dates resolve against; default today"
    )


class Entity(BaseModel):
    """A found entity: character offsets into the text, and a normalised value where it applies."""

    text: str
    label: str = Field(description="MONEY, DATE, CATEGORY, MERCHANT, ACCOUNT, or a label the "
                                   "served version was trained with")
    start: int
    end: int
    value: dict[str, Any] | None = None


class NerPrediction(BaseModel):
    """The entities found in one text, and the date relative dates were resolved against."""

    entities: list[Entity]
    reference_date: date


class SpanLabel(BaseModel):
    """One true entity of a text (an outcome's label is the list of them): offsets, label."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0, le=1_000_000)
    end: int = Field(ge=0, le=1_000_000)
    label: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$",
                       description="a built-in label or one the served version was trained with")


INSTANCE = TypeAdapter(NerInstance)


def input_json_schema() -> dict[str, Any]:
    return NerInstance.model_json_schema()
