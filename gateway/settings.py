"""GatewaySettings: upstreams, timeouts, cache TTLs, Redis, API keys, rate limit, CORS."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings

DEFAULT_UPSTREAMS = {
    "intent": "http://127.0.0.1:8001",
    "ner": "http://127.0.0.1:8002",
    "spending": "http://127.0.0.1:8003",
    "anomaly": "http://127.0.0.1:8004",
    "credit": "http://127.0.0.1:8005",
}

# Seconds a cached prediction lives; 0 turns caching (and coalescing) off for that model.
# Anomaly scores depend on the user's changing history, so they are never cached by default.
DEFAULT_CACHE_TTL = {"intent": 300.0, "ner": 300.0, "spending": 60.0, "anomaly": 0.0,
                     "credit": 300.0}


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from `GATEWAY_*`; dicts and lists are given as JSON."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore",
                                      protected_namespaces=())

    port: int = 8000
    upstreams: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_UPSTREAMS))
    connect_timeout: float = 0.5
    read_timeout: float = 5.0
    # A batch of uncached spending forecasts is ~0.1–0.3 s an instance: give it room.
    read_timeouts: dict[str, float] = Field(default_factory=lambda: {"spending": 30.0})
    upstream_connections: int = 64
    cache_ttl: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_CACHE_TTL))
    default_cache_ttl: float = 60.0
    cache_max_entries: int = 100_000
    version_refresh_seconds: float = 5.0
    circuit_failures: int = 5
    circuit_reset_seconds: float = 5.0
    api_key_sha256: list[str] = Field(default_factory=list)
    rate_limit_per_second: float = 0.0
    rate_limit_burst: int = 0
    cors_origins: list[str] = Field(default_factory=list)
    required_upstreams: list[str] = Field(default_factory=list)

    @field_validator("upstreams")
    @classmethod
    def _plain_http_urls(cls, upstreams: dict[str, str]) -> dict[str, str]:
        """The upstream client speaks plain HTTP/1.1 to in-cluster services."""
        for name, url in upstreams.items():
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"upstream {name!r}: {url!r} is not an http://host[:port] URL")
        return upstreams

    def read_timeout_for(self, name: str) -> float:
        return self.read_timeouts.get(name, self.read_timeout)

    def cache_ttl_for(self, name: str) -> float:
        return self.cache_ttl.get(name, self.default_cache_ttl)

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_key_sha256)

    @property
    def burst(self) -> int:
        """Bucket size: the configured burst, or one second's worth of requests."""
        return self.rate_limit_burst or max(1, int(self.rate_limit_per_second))
