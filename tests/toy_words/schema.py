"""The words service's contract: one instance."""

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class WordsInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=500, description="Any sentence")


INSTANCE = TypeAdapter(WordsInstance)
