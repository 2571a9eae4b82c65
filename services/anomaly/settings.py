"""AnomalySettings: the kit's limits plus where profiles live and how feedback is delayed."""

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class AnomalySettings(ServiceSettings):
    """Env prefix `ANOMALY_`; with no `ANOMALY_REDIS_URL` profiles stay in-process."""

    model_config = SettingsConfigDict(
        env_prefix="ANOMALY_", extra="ignore", protected_namespaces=()
    )

    port: int = 8004
    profile_max_transactions: int = 500
    feedback_log_max: int = 100_000
    max_reasons: int = 3
