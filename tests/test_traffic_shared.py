"""A traffic policy set through one gateway replica holds on the others that share its Redis
(a real redis-server), within their poll."""

from __future__ import annotations

import asyncio

import pytest

from gateway.app import build_app
from gateway.settings import GatewaySettings
from gateway.tests.fakes import FakeModelService
from kit.testing import running_client

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration


async def test_a_policy_set_on_one_replica_reaches_the_other(tmp_path):
    redis = procs.start_redis(tmp_path)
    credit = await FakeModelService("credit").start()
    try:
        settings = GatewaySettings(upstreams={"credit": credit.url}, redis_url=redis.url,
                                   version_refresh_seconds=0.05, log_level="WARNING")
        async with running_client(build_app(settings)) as one, \
                running_client(build_app(settings)) as two:
            changed = await one.put("/admin/models/credit/traffic",
                                    json={"canary_percent": 25, "shadow_percent": 5})
            assert changed.status_code == 200
            for _ in range(100):
                policy = (await two.get("/v1/models/credit/traffic")).json()["policy"]
                if policy["canary_percent"] == 25:
                    break
                await asyncio.sleep(0.02)
            assert policy["canary_percent"] == 25 and policy["shadow_percent"] == 5
    finally:
        await credit.stop()
        redis.stop()
