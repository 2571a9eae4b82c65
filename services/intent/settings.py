"""What the intent service reads from `INTENT_*`; the defaults run on one machine."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.catalog import port_of
from kit.settings import ServiceSettings


class IntentSettings(ServiceSettings):
    """Env prefix INTENT_; texts are short, and MiniLM reads 256 tokens at most."""

    model_config = SettingsConfigDict(env_prefix="INTENT_", extra="ignore", protected_namespaces=())

    port: int = Field(default_factory=port_of("intent"))
    max_text_length: int = 1_000
    onnx_threads: int = 1
