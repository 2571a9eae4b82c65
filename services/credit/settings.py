"""What the credit service reads from `CREDIT_*`; the defaults run on one machine."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.catalog import port_of
from kit.settings import ServiceSettings


class CreditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore", protected_namespaces=())

    port: int = Field(default_factory=port_of("credit"))
    top_reasons: int = 3
    predict_threads: int = 1
