from __future__ import annotations

import pytest

from gateway.settings import GatewaySettings
from gateway.tests.fakes import FakeModelService
from kit.procs import free_port


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a model service that is not running."""
    return f"http://127.0.0.1:{free_port()}"


def fake_service(name: str):
    """A fixture named `name`: a started FakeModelService for that model."""

    async def service():
        fake = await FakeModelService(name).start()
        yield fake
        await fake.stop()

    return pytest.fixture(service, name=name)


credit, intent, ner, anomaly = (fake_service(n) for n in ("credit", "intent", "ner", "anomaly"))


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
