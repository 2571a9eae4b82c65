"""A real gateway process trusts X-Forwarded-For only from the proxies it is told about: from
loopback, forged addresses used to escape a per-address rate limit (uvicorn's default)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.procs import start_gateway

pytestmark = pytest.mark.integration


def statuses(url: str, forged: list[str]) -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return [client.get("/v1/models", headers={"X-Forwarded-For": addr}).status_code
                for addr in forged]


@pytest.mark.parametrize(("trusted", "expected"), [
    ([], [200, 429, 429]),                 # default: the peer's address, forged or not
    (["127.0.0.1"], [200, 200, 200]),      # a trusted proxy's header names each client
])
def test_forwarded_for_counts_only_from_trusted_proxies(tmp_path, trusted, expected):
    env = {"GATEWAY_UPSTREAMS": json.dumps({}), "GATEWAY_RATE_LIMIT_PER_SECOND": "0.01",
           "GATEWAY_RATE_LIMIT_BURST": "1",
           "GATEWAY_FORWARDED_ALLOW_IPS": json.dumps(trusted)}
    gateway = start_gateway(env, tmp_path)
    try:
        assert statuses(gateway.url, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == expected
    finally:
        gateway.stop()
