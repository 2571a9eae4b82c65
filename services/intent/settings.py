"""Intent service settings (env prefix INTENT_, port 8001)."""

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class IntentSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INTENT_", extra="ignore", protected_namespaces=()
    )

    port: int = 8001
    max_text_length: int = 1_000
    onnx_threads: int = 1
