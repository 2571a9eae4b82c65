"""What the words service reads from `WORDS_*`."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit import ServiceSettings
from kit.catalog import port_of


class WordsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WORDS_", extra="ignore", protected_namespaces=())

    port: int = Field(default_factory=port_of("words"))
