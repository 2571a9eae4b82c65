"""The shadow flag: `X-Finfleet-Shadow: 1` on a version-addressed predict calls the model's
`predict_shadow` (writes no state) and is counted apart; the plain `:predict` ignores it."""

from __future__ import annotations

import pytest

from kit import ArtifactStore, ServedModel, ServiceSettings, create_app
from kit.registry import PRODUCTION, FileRegistry
from kit.testing import running_client

V1 = "20260101-000000"
VERSION_PATH = f"/v1/models/ledger/versions/{V1}:predict"
PLAIN_PATH = "/v1/models/ledger:predict"


class LedgerModel(ServedModel):
    """A stateful toy: predict records each instance, predict_shadow only reads."""

    name = "ledger"
    offload = False

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.seen: list[object] = []

    def predict(self, instances):
        self.seen.extend(instances)
        return [{"seen": len(self.seen), "shadow": False} for _ in instances]

    def predict_shadow(self, instances):
        return [{"seen": len(self.seen), "shadow": True} for _ in instances]


@pytest.fixture
async def client(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "weights.bin").write_text("w")
    ArtifactStore(tmp_path, "ledger").save(staging, {"metrics": {}}, version=V1)
    FileRegistry(tmp_path, "ledger").set_alias(PRODUCTION, V1, actor="test", reason="first")
    app = create_app(LedgerModel, ServiceSettings(model_dir=tmp_path, registry_poll_seconds=0))
    async with running_client(app) as c:
        yield c


async def _post(client, path, header=None, instances=("a",)):
    headers = {} if header is None else {"X-Finfleet-Shadow": header}
    return await client.post(path, json={"instances": list(instances)}, headers=headers)


def _model(client) -> LedgerModel:
    return client._transport.app.state.model_state.model


async def test_the_header_routes_the_version_route_to_predict_shadow(client):
    await _post(client, PLAIN_PATH, instances=("a", "b"))
    for header in ("1", "true", "TRUE", " 1 "):
        answer = await _post(client, VERSION_PATH, header)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == V1
        assert answer.json()["predictions"] == [{"seen": 2, "shadow": True}]
    lower = await client.post(VERSION_PATH, json={"instances": ["c"]},
                              headers={"x-finfleet-shadow": "1"})  # any header case
    assert lower.json()["predictions"] == [{"seen": 2, "shadow": True}]
    assert _model(client).seen == ["a", "b"]
    for header in (None, "0", "false"):
        answer = await _post(client, VERSION_PATH, header, instances=(header,))
        assert answer.json()["predictions"][0]["shadow"] is False
    assert _model(client).seen == ["a", "b", None, "0", "false"]


async def test_the_plain_predict_ignores_the_header(client):
    answer = await _post(client, PLAIN_PATH, "1")
    assert answer.status_code == 200
    assert answer.json()["predictions"] == [{"seen": 1, "shadow": False}]
    assert _model(client).seen == ["a"]


async def test_an_unknown_flag_value_is_a_400_and_predicts_nothing(client):
    answer = await _post(client, VERSION_PATH, "yes")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "X-Finfleet-Shadow" in answer.json()["detail"]
    assert _model(client).seen == []


async def test_shadow_predictions_are_counted_apart(client):
    await _post(client, PLAIN_PATH, instances=("a", "b"))
    await _post(client, VERSION_PATH, "1", instances=("c", "d", "e"))
    metrics = (await client.get("/metrics")).text
    assert 'finfleet_predictions_total{outcome="ok",service="ledger"} 2.0' in metrics
    assert 'finfleet_shadow_predictions_total{outcome="ok",service="ledger"} 3.0' in metrics


async def test_the_header_is_documented_on_the_version_route(client):
    docs = (await client.get("/openapi.json")).json()
    params = docs["paths"]["/v1/models/ledger/versions/{version}:predict"]["post"]["parameters"]
    assert {"name": "X-Finfleet-Shadow", "in": "header"}.items() <= params[1].items()
    assert "parameters" not in docs["paths"]["/v1/models/ledger:predict"]["post"]


def test_a_stateless_model_shadows_with_its_predict_and_the_warm_up_is_a_shadow():
    class Echo(ServedModel):
        def predict(self, instances):
            return [{"echo": i} for i in instances]

    assert Echo(None).predict_shadow([1, 2]) == [{"echo": 1}, {"echo": 2}]
    ledger = LedgerModel(None)
    ledger.warm_up({"demo": 1})
    assert ledger.seen == []
