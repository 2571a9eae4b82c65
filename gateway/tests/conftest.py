from __future__ import annotations

import pytest

from gateway.settings import GatewaySettings
from gateway.tests.fakes import FakeModelService
from kit.procs import free_port


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a model service that is not running."""
    return f"http://127.0.0.1:{free_port()}"


async def fake(name: str):
    service = await FakeModelService(name).start()
    yield service
    await service.stop()


@pytest.fixture
async def credit():
    async for service in fake("credit"):
        yield service


@pytest.fixture
async def intent():
    async for service in fake("intent"):
        yield service


@pytest.fixture
async def ner():
    async for service in fake("ner"):
        yield service


@pytest.fixture
async def anomaly():
    async for service in fake("anomaly"):
        yield service


def gateway_settings(**upstreams: str) -> dict:
    return dict(upstreams=upstreams, version_refresh_seconds=3600, log_level="WARNING")


@pytest.fixture
def make_settings(credit, intent):
    def build(**overrides) -> GatewaySettings:
        fields = gateway_settings(credit=credit.url, intent=intent.url, ner=closed_port_url(),
                                  anomaly=closed_port_url())
        fields["cache_ttl"] = {"credit": 60.0, "intent": 60.0, "ner": 60.0, "anomaly": 0.0}
        fields.update(overrides)
        return GatewaySettings(**fields)

    return build
