"""What the anomaly service reads from `ANOMALY_*`; the defaults run on one machine."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.catalog import port_of
from kit.settings import ServiceSettings


class AnomalySettings(ServiceSettings):
    """Env prefix `ANOMALY_`; with no `ANOMALY_REDIS_URL` profiles stay in-process."""

    keeps_user_state = True  # per-user records (kit/stores.py)

    model_config = SettingsConfigDict(
        env_prefix="ANOMALY_", extra="ignore", protected_namespaces=()
    )

    port: int = Field(default_factory=port_of("anomaly"))
    profile_max_transactions: int = 500
    feedback_log_max: int = 100_000
    max_reasons: int = 3
