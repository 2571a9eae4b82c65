"""GatewaySettings: upstreams, timeouts, cache TTLs, Redis, API keys, rate limit, CORS."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kit.catalog import load_catalog
from kit.settings import ServiceSettings


def default_upstreams() -> dict[str, str]:
    return load_catalog().upstream_urls()


def default_cache_ttls() -> dict[str, float]:
    """Seconds a cached prediction lives, per model (the table's `cache_ttl`; 0: never cached)."""
    return {s.name: s.cache_ttl for s in load_catalog().services}


def default_read_timeouts() -> dict[str, float]:
    return {s.name: s.read_timeout for s in load_catalog().services if s.read_timeout}


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from `GATEWAY_*`; dicts and lists are given as JSON."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore",
                                      protected_namespaces=())

    port: int = Field(default_factory=lambda: load_catalog().gateway.port)
    upstreams: dict[str, str] = Field(default_factory=default_upstreams)
    connect_timeout: float = 0.5
    read_timeout: float = 5.0
    read_timeouts: dict[str, float] = Field(default_factory=default_read_timeouts)
    upstream_connections: int = 64
    cache_ttl: dict[str, float] = Field(default_factory=default_cache_ttls)
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
