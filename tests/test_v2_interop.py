"""The Open Inference Protocol (V2) with a real third-party client: tritonclient[http] against
every model service directly and through the gateway (the fleet under uvicorn on loopback).

Each model: server live/ready, model ready (production and by version), metadata (validated
with jsonschema against the protocol's published OpenAPI description, vendored in tests/oip),
and infer in both of tritonclient's encodings (JSON, and Triton's binary tensor data), whose
answer must be V1's for the same instance, field for field, and a valid prediction.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest
import tritonclient.http as triton
import yaml
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from kit.catalog import load_catalog
from tests.servers import running_fleet

pytestmark = pytest.mark.integration
NAMES = load_catalog().names
SPEC = yaml.safe_load((Path(__file__).parent / "oip" / "open_inference_rest.yaml").read_text())
# Fields two calls may answer differently: a forecast's timing and cache hit; an anomaly
# score moves as each call adds the transaction to the user's history (and ids are new).
VOLATILE = {"spending": {"fit_ms", "cached"},
            "anomaly": {"score", "is_anomaly", "reasons", "transaction_id"}}


def assert_valid(body: Any, schema: str) -> None:
    """`body` against one schema of the protocol's OpenAPI document."""
    jsonschema.validate(body, {"$ref": f"#/components/schemas/{schema}",
                               "components": SPEC["components"]})


@pytest.fixture(scope="module")
def fleet():
    with running_fleet() as urls:
        yield urls


def client(fleet: dict[str, str], name: str, via: str) -> triton.InferenceServerClient:
    url = fleet["gateway" if via == "gateway" else name].removeprefix("http://")
    return triton.InferenceServerClient(url, network_timeout=60.0, connection_timeout=10.0)


def as_sent(value: Any, tensor: dict[str, Any]) -> np.ndarray:
    """One instance's field as a one-element tensor of the declared datatype."""
    if tensor["datatype"] == "BYTES":
        text = json.dumps(value) if tensor["parameters"]["content_type"] == "json" else value
        return np.array([text.encode()], dtype=np.object_)
    return np.array([value], dtype=triton_to_np_dtype(tensor["datatype"]))


def request_for(metadata: dict[str, Any], instance: dict[str, Any], binary: bool
                ) -> tuple[list[triton.InferInput], dict[str, Any]]:
    """tritonclient inputs for `instance`, and the instance as the model receives it (a
    number rounded to FP32 on the way), which V1 is then asked about."""
    inputs, received = [], {}
    for tensor in metadata["inputs"]:
        if tensor["name"] not in instance:
            continue
        array = as_sent(instance[tensor["name"]], tensor)
        one = triton.InferInput(tensor["name"], [1], tensor["datatype"])
        inputs.append(one.set_data_from_numpy(array, binary_data=binary))
        received[tensor["name"]] = (instance[tensor["name"]] if tensor["datatype"] == "BYTES"
                                    else array[0].item())
    return inputs, received


def predictions_of(result: triton.InferResult, metadata: dict[str, Any]) -> list[dict]:
    """The answer's tensors back into V1's prediction objects."""
    columns = {}
    for tensor in metadata["outputs"]:
        array = result.as_numpy(tensor["name"])
        assert array is not None, f"output {tensor['name']} missing"
        values = [v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v
                  for v in array.tolist()] if array.dtype == np.object_ else array.tolist()
        if tensor["parameters"]["content_type"] == "json":
            values = [json.loads(v) for v in values]
        columns[tensor["name"]] = values
    count = {len(v) for v in columns.values()}.pop()
    return [{k: v[i] for k, v in columns.items()} for i in range(count)]


def same(a: Any, b: Any) -> bool:
    """Equal, numbers within FP32's precision (an FP32 output carries V1's double)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(
            a, b, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def prediction_model(name: str):
    module = importlib.import_module(f"{load_catalog().service(name).module_name}.model")
    found = [v for v in vars(module).values()
             if isinstance(v, type) and getattr(v, "name", None) == name
             and getattr(v, "prediction_model", None) is not None]
    return found[0].prediction_model


@pytest.mark.parametrize("via", ["direct", "gateway"])
@pytest.mark.parametrize("name", NAMES)
def test_probes_and_metadata_follow_the_protocol(fleet, name, via):
    with client(fleet, name, via) as v2:
        assert v2.is_server_live() and v2.is_server_ready()
        server = v2.get_server_metadata()
        assert_valid(server, "metadata_server_response")
        assert "binary_tensor_data" in server["extensions"]
        metadata = v2.get_model_metadata(name)
        assert_valid(metadata, "metadata_model_response")
        [version] = metadata["versions"]
        assert v2.is_model_ready(name) and v2.is_model_ready(name, version)
        assert not v2.is_model_ready(name, "no-such-version")
        assert v2.get_model_metadata(name, version)["versions"] == [version]
    v1 = httpx.get(f"{fleet[name]}/v1/models/{name}").json()
    assert [t["name"] for t in metadata["inputs"]] == list(v1["input_schema"]["properties"])
    assert [t["name"] for t in metadata["outputs"]] == list(v1["output_schema"]["properties"])
    assert {t["datatype"] for t in metadata["inputs"] + metadata["outputs"]} <= {
        "FP32", "INT64", "BOOL", "BYTES"}


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("via", ["direct", "gateway"])
@pytest.mark.parametrize("name", NAMES)
def test_infer_answers_what_v1_answers(fleet, name, via, binary):
    instance = load_catalog().service(name).example
    with client(fleet, name, via) as v2:
        metadata = v2.get_model_metadata(name)
        inputs, received = request_for(metadata, instance, binary)
        outputs = [triton.InferRequestedOutput(t["name"], binary_data=binary)
                   for t in metadata["outputs"]]
        result = v2.infer(name, inputs, outputs=outputs, request_id=f"{name}-{via}-{binary}")
    response = result.get_response()
    assert response["id"] == f"{name}-{via}-{binary}"
    assert response["model_name"] == name and response["model_version"] == metadata["versions"][0]
    if not binary:
        assert_valid(response, "inference_response")
    [prediction_id] = response["parameters"]["prediction_ids"]  # logged, as V1's are
    assert prediction_id
    [got] = predictions_of(result, metadata)
    prediction_model(name).model_validate(got)
    [want] = httpx.post(f"{fleet[name]}/v1/models/{name}:predict",
                        json={"instances": [received]}, timeout=60).json()["predictions"]
    stable = set(want) - VOLATILE.get(name, set())
    assert same({k: got[k] for k in stable}, {k: want[k] for k in stable}), (got, want)


@pytest.mark.parametrize("via", ["direct", "gateway"])
def test_a_batch_with_asked_outputs_in_default_binary(fleet, via):
    """tritonclient's defaults: binary inputs, no outputs named (all of them, as binary)
    or some named; N instances as [N, 1] tensors."""
    with client(fleet, "intent", via) as v2:
        texts = np.array([[b"what's my balance?"], [b"hello there"]], dtype=np.object_)
        text = triton.InferInput("text", [2, 1], "BYTES").set_data_from_numpy(texts)
        everything = v2.infer("intent", [text])
        assert everything.as_numpy("label").shape == (2,)
        assert everything.as_numpy("confidence").dtype == np.float32
        only = v2.infer("intent", [text], outputs=[triton.InferRequestedOutput("label")])
    assert [o["name"] for o in only.get_response()["outputs"]] == ["label"]
    assert only.as_numpy("label").tolist() == everything.as_numpy("label").tolist()


@pytest.mark.parametrize("via", ["direct", "gateway"])
def test_an_invalid_field_is_a_400_naming_input_and_instance(fleet, via):
    instance = {**load_catalog().service("credit").example, "age": 7}
    with client(fleet, "credit", via) as v2:
        metadata = v2.get_model_metadata("credit")
        inputs, _ = request_for(metadata, instance, binary=False)
        with pytest.raises(InferenceServerException) as caught:
            v2.infer("credit", inputs)
        assert caught.value.status() == "400" and "age[0]" in caught.value.message()
        unknown = triton.InferInput("nope", [1], "FP32").set_data_from_numpy(
            np.array([1.0], dtype=np.float32), binary_data=False)
        with pytest.raises(InferenceServerException) as caught:
            v2.infer("credit", [unknown])
        assert caught.value.status() == "400" and "'nope'" in caught.value.message()


def test_the_gateway_answers_an_unknown_model_and_bad_json_in_the_protocols_body(fleet):
    gateway = fleet["gateway"]
    missing = httpx.post(f"{gateway}/v2/models/nope/infer", json={"inputs": []})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    bad = httpx.post(f"{gateway}/v2/models/credit/infer", content=b"{not json")
    assert bad.status_code == 400
    assert_valid(bad.json(), "inference_error_response")
    assert set(bad.json()) == {"error"}


def test_a_service_answers_another_models_routes_with_the_protocols_404(fleet):
    for path in ("/v2/models/intent", "/v2/models/intent/versions/1/infer"):
        answer = httpx.post(f"{fleet['credit']}{path}", json={"inputs": []}) \
            if path.endswith("infer") else httpx.get(f"{fleet['credit']}{path}")
        assert answer.status_code == 404 and "'intent'" in answer.json()["error"], answer.text
