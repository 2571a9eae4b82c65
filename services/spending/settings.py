"""What the spending service reads from `SPENDING_*`; the defaults run on one machine."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.catalog import port_of
from kit.settings import ServiceSettings


class SpendingSettings(ServiceSettings):
    """Limits of the spending service; forecasting parameters come from the artifact."""

    keeps_user_state = True  # per-user records (kit/stores.py)

    model_config = SettingsConfigDict(
        env_prefix="SPENDING_", extra="ignore", protected_namespaces=()
    )

    port: int = Field(default_factory=port_of("spending"))
    max_instances: int = 32
    interval_width: float = Field(0.8, gt=0.0, lt=1.0)
    min_history_months: int = 3
    max_history_months: int = 120
    max_history_points: int = 20_000
    max_categories: int = 12
    max_transactions_per_user: int = 20_000
    max_ingest_transactions: int = 5_000
    cache_size: int = 2_048
