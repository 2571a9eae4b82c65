"""Render `nginx.conf` (or only the site block) from GatewaySettings and NginxSettings."""

from __future__ import annotations

import math
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.settings import GatewaySettings

TEMPLATES = Path(__file__).parent


class NginxSettings(BaseSettings):
    """What only nginx needs (`GATEWAY_NGINX_*`); limits and timeouts come from the gateway's."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_NGINX_", extra="ignore")

    listen: int = 8080
    listen_host: str = "127.0.0.1"
    replicas: list[str] = Field(default_factory=lambda: ["127.0.0.1:8000"])
    keepalive: int = 32
    rate_per_second: float = 200.0
    rate_burst: int = 400
    worker_processes: str = "auto"
    prefix: str = "/tmp/finfleet-nginx"


def render_nginx(
    gateway: GatewaySettings,
    *,
    replicas: list[str],
    listen: int,
    rate_per_second: float,
    prefix: str,
    listen_host: str = "127.0.0.1",
    keepalive: int = 32,
    rate_burst: int | None = None,
    worker_processes: str = "auto",
    site_only: bool = False,
) -> str:
    """The whole config (events + http) for `nginx -c`, or only the http-level site block."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    slowest = max([gateway.read_timeout, *gateway.read_timeouts.values()])
    context = {
        "replicas": replicas,
        "listen": listen,
        "listen_host": listen_host,
        "keepalive": keepalive,
        "rate_per_second": rate_per_second,
        "rate_burst": rate_burst if rate_burst is not None else max(1, int(rate_per_second * 2)),
        "client_max_body_size": gateway.max_body_bytes,
        "connect_timeout": max(1, math.ceil(gateway.connect_timeout)),
        "read_timeout": math.ceil(slowest + gateway.connect_timeout),
        "prefix": prefix.rstrip("/"),
        "worker_processes": worker_processes,
    }
    template = "gateway.conf.j2" if site_only else "nginx.conf.j2"
    return env.get_template(template).render(**context)


def render_from_settings(site_only: bool = False) -> str:
    nginx = NginxSettings()
    return render_nginx(
        GatewaySettings(), replicas=nginx.replicas, listen=nginx.listen,
        listen_host=nginx.listen_host, rate_per_second=nginx.rate_per_second,
        rate_burst=nginx.rate_burst, keepalive=nginx.keepalive, prefix=nginx.prefix,
        worker_processes=nginx.worker_processes, site_only=site_only,
    )
