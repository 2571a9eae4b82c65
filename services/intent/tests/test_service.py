"""The HTTP contract: predict envelope, metadata, readiness, and 4xx problem+json for bad input."""

import pytest

from kit.testing import running_client
from services.intent.app import build_app

PREDICT = "/v1/models/intent:predict"


@pytest.fixture
async def client(settings):
    async with running_client(build_app(settings)) as c:
        yield c


async def test_predict_answers_every_instance_in_order(client, artifact):
    texts = ["what is my CIBIL score", "tell me a joke about cats", "pay my electricity bill"]
    response = await client.post(PREDICT, json={"instances": [{"text": t} for t in texts]},
                                 headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-123"
    body = response.json()
    assert body["model_name"] == "intent"
    assert body["model_version"] == artifact.version
    assert [p["label"] for p in body["predictions"]] == [
        "credit_score", "out_of_scope", "bill_payment"
    ]


async def test_metadata_describes_the_model(client, artifact):
    body = (await client.get("/v1/models/intent")).json()
    assert body["version"] == artifact.version
    assert body["data_sha256"] == artifact.manifest["data_sha256"]
    assert body["labels"][-1] == "out_of_scope" and len(body["labels"]) == 15
    assert 0.8 < body["metrics"]["in_scope_accuracy"] <= 1.0
    assert body["input_schema"]["properties"]["text"]["maxLength"] == 200
    assert body["encoder"]["safetensors_sha256"] is not None


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


@pytest.mark.parametrize(("instances", "field"), [
    ([{"text": "ok"}, {"text": "x" * 201}], "instances[1].text"),
    ([{"text": ""}], "instances[0].text"),
    ([{"message": "hi"}], "instances[0].text"),
    ([{"text": ["a", "b"]}], "instances[0].text"),
    (["bare string"], "instances[0]"),
    ([], "instances"),
    ([{"text": "hi"}] * 9, "instances"),
])
async def test_bad_instances_are_422_naming_the_field(client, instances, field):
    body = _problem(await client.post(PREDICT, json={"instances": instances}), 422)
    assert field in {e["field"] for e in body["errors"]}
