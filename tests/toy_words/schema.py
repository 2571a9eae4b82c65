"""The words service's contract and settings."""

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic_settings import SettingsConfigDict

from kit import ServiceSettings
from kit.catalog import port_of


class WordsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WORDS_", extra="ignore", protected_namespaces=())

    port: int = Field(default_factory=port_of("words"))


class WordsInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=500, description="Any sentence")


INSTANCE = TypeAdapter(WordsInstance)
