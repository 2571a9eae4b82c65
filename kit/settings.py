"""Settings base: each service subclasses it with its own env prefix (CREDIT_, NER_, ...)."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
# Public datasets for benchmarks live beside the checkout (never committed into it).
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


class ServiceSettings(BaseSettings):
    """Limits and locations a model service needs; defaults run on one machine."""

    model_config = SettingsConfigDict(
        env_prefix="SERVICE_", extra="ignore", protected_namespaces=()
    )

    host: str = "127.0.0.1"
    port: int = 8080
    model_dir: Path = REPO_ROOT / "models"
    model_version: str | None = None
    max_body_bytes: int = 1_048_576
    max_instances: int = 256
    max_text_length: int = 2_000
    predict_threads: int = 2
    log_level: str = "INFO"
    redis_url: str | None = None
