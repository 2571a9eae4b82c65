"""What the ner service reads from `NER_*`; the defaults run on one machine."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.catalog import port_of
from kit.settings import ServiceSettings


class NerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NER_", extra="ignore", protected_namespaces=())

    port: int = Field(default_factory=port_of("ner"))
    batch_size: int = 64
