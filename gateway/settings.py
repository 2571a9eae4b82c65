"""GatewaySettings: upstreams, timeouts, cache TTLs, Redis, API keys, rate limit, CORS."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from gateway.traffic import TrafficPolicy
from kit.catalog import load_catalog
from kit.settings import HttpSettings


def default_upstreams() -> dict[str, str]:
    return load_catalog().upstream_urls()


def default_cache_ttls() -> dict[str, float]:
    """Seconds a cached prediction lives, per model (the table's `cache_ttl`; 0: never cached)."""
    return {s.name: s.cache_ttl for s in load_catalog().services}


def default_read_timeouts() -> dict[str, float]:
    return {s.name: s.read_timeout for s in load_catalog().services if s.read_timeout}


class GatewaySettings(HttpSettings):
    """Everything the gateway reads from `GATEWAY_*`; dicts and lists are given as JSON."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore",
                                      protected_namespaces=())

    port: int = Field(default_factory=lambda: load_catalog().gateway.port,
                      description="Port to listen on (the table's gateway port)")
    upstreams: dict[str, str] = Field(
        default_factory=default_upstreams,
        description="Model name → http://host:port of its service (the table's, on loopback)")
    connect_timeout: float = Field(0.5, gt=0, description="Seconds to connect to an upstream")
    read_timeout: float = Field(5.0, gt=0, description="Seconds an upstream may take to answer")
    read_timeouts: dict[str, float] = Field(
        default_factory=default_read_timeouts, description="Per-model read timeouts (seconds)")
    upstream_connections: int = Field(64, gt=0, description="Keep-alive connections per upstream")
    cache_ttl: dict[str, float] = Field(
        default_factory=default_cache_ttls,
        description="Per-model seconds a cached prediction lives; 0 turns caching off")
    default_cache_ttl: float = Field(60.0, ge=0, description="TTL of a model not in cache_ttl")
    cache_max_entries: int = Field(100_000, gt=0, description="In-process cache size (LRU)")
    version_refresh_seconds: float = Field(
        5.0, gt=0, description="How often each upstream's model version is polled")
    circuit_failures: int = Field(5, gt=0, description="Failures in a row that open a circuit")
    circuit_reset_seconds: float = Field(5.0, gt=0,
                                         description="Seconds before an open circuit probes")
    admin_key_sha256: list[str] = Field(
        default_factory=list,
        description="sha256 digests of the admin keys (the /admin routes); none: /admin is "
                    "open only when API keys are off too, else closed")
    trainer_url: str | None = Field(
        "http://127.0.0.1:8090", description="The trainer service (training jobs, /admin/jobs); "
                                             "empty: no jobs through this gateway")
    trainer_timeout: float = Field(60.0, gt=0, description="Seconds a trainer call may take "
                                                           "(an upload included)")
    monitor_url: str | None = Field(
        "http://127.0.0.1:8095", description="The drift monitor (GET /v1/models/<name>/drift); "
                                             "empty: drift is a 503 through this gateway")
    monitor_timeout: float = Field(10.0, gt=0, description="Seconds a drift monitor call may take")
    max_upload_bytes: int = Field(50 * 1024 * 1024, gt=0,
                                  description="Largest training file /admin/jobs accepts")
    upstream_admin_token: str | None = Field(
        None, description="The bearer token the services' /admin routes need "
                          "(<NAME>_ADMIN_TOKEN there)")
    api_key_sha256: list[str] = Field(
        default_factory=list,
        description="sha256 hex digests of the accepted API keys; empty serves everyone")
    rate_limit_per_second: float = Field(0.0, ge=0,
                                         description="Requests per second per caller; 0: off")
    rate_limit_burst: int = Field(0, ge=0, description="Bucket size; 0: one second's worth")
    cors_origins: list[str] = Field(default_factory=list,
                                    description="Browser origins allowed to call the API")
    traffic: dict[str, TrafficPolicy] = Field(
        default_factory=dict,
        description='Traffic policy per model at start, JSON: {"credit": {"canary_percent": 10, '
                    '"shadow_percent": 0}}; PUT /admin/models/<name>/traffic changes it')
    candidate_upstreams: dict[str, str] = Field(
        default_factory=dict,
        description="Replicas serving a model's candidate on their own (the service run with "
                    "<NAME>_MODEL_ALIAS=candidate), JSON name → URL(s); canary and shadow go "
                    "there instead of to production's replicas")
    shadow_queue_max: int = Field(1000, gt=0, description="Shadow calls waiting at most; "
                                                         "beyond, they are dropped and counted")
    shadow_workers: int = Field(4, gt=0, description="Shadow calls in flight at once")
    shadow_batch_max: int = Field(32, gt=0, description="Most instances in one call to the "
                                                        "candidate: queued copies go together")
    shadow_batch_wait_ms: float = Field(20.0, ge=0, le=1000, description="How long a shadow "
                                        "batch waits for copies to queue behind its first "
                                        "(fewer, fuller calls; no caller waits for it)")
    shadow_remember_max: int = Field(20_000, ge=0, description="Shadow pairs remembered by "
                                     "cache key: a cached answer's repeat is counted, not sent "
                                     "again (0: send every copy)")
    required_upstreams: list[str] = Field(
        default_factory=list, description="Models that must be ready for /health/ready")

    @field_validator("upstreams", "candidate_upstreams")
    @classmethod
    def _plain_http_urls(cls, upstreams: dict[str, str]) -> dict[str, str]:
        """The upstream client speaks plain HTTP/1.1 to in-cluster services."""
        for name, urls in upstreams.items():
            for url in [u.strip() for u in urls.split(",")]:
                parts = urlsplit(url)
                if parts.scheme != "http" or not parts.hostname:
                    raise ValueError(f"upstream {name!r}: {url!r} is not an http://host[:port] "
                                     "URL (several replicas: comma-separated URLs)")
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
