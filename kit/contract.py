"""The contract every model service keeps, as tests each service runs once.

A service's tests subclass `ServiceContract` as `TestContract`, say how to build its app on a
model folder and give the `model_dir` fixture (a trained artifact); its own tests then cover only
what is its own. Covered here: readiness and probes, the metric names, metadata, problem+json
for each kind of bad input (not JSON, too deep, not declared JSON, no instances, too many, an
invalid field), 413, 404 without redirects, request ids, the documented shape of a prediction,
and every route in `/openapi.json` with the model's own input schema.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from fastapi import FastAPI

from kit import procs
from kit.catalog import load_catalog
from kit.settings import REPO_ROOT
from kit.testing import every_route, running_client

PROBLEM_JSON = "application/problem+json"
# Libraries only trainer images hold (tests/test_deploy_images.py checks the image locks).
TRAINING_ONLY = {"torch", "sklearn", "skl2onnx", "onnxmltools", "onnx", "xgboost", "transformers",
                 "sentence_transformers"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """A problem+json answer with this status, a request id and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def imported_roots(source: str) -> set[str]:
    """The top-level packages a module's source imports (at any depth of the module)."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


class ServiceContract:
    """Subclass with `name`, `build_app(model_dir, **limits)` and a `model_dir` fixture.

    `invalid` is one bad instance and the field its 422 must name."""

    name: ClassVar[str]
    invalid: ClassVar[tuple[dict[str, Any], str]]

    def build_app(self, model_dir: Path, **limits: Any) -> FastAPI:
        raise NotImplementedError

    @property
    def predict_path(self) -> str:
        return f"/v1/models/{self.name}:predict"

    @property
    def example(self) -> dict[str, Any]:
        return load_catalog().service(self.name).example

    @pytest.fixture
    async def client(self, model_dir: Path):
        self.app = self.build_app(model_dir, max_instances=4, max_body_bytes=20_000)
        async with running_client(self.app) as client:
            yield client

    def test_serving_imports_no_training_code(self):
        """The runtime image holds only the service's own lock: no module its server loads may
        be a trainer or import a training library (third-party optional imports aside)."""
        probe = (f"import sys, services.{self.name}.app, services.{self.name}.__main__; "
                 "print(' '.join(sorted(sys.modules)))")
        loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                cwd=REPO_ROOT, check=True).stdout.split()
        ours = [m for m in loaded if m.split(".")[0] in ("kit", "services")]
        assert f"services.{self.name}.train" not in ours and "kit.training" not in ours
        for module in ours:
            spec = importlib.util.find_spec(module)
            if spec and spec.origin and spec.origin.endswith(".py"):
                imported = imported_roots(Path(spec.origin).read_text())
                assert not imported & TRAINING_ONLY, f"{module} imports {imported & TRAINING_ONLY}"

    def test_a_fresh_server_process_loads_the_model(self, model_dir: Path, tmp_path: Path):
        """`python -m services.<name>` in a new process, which has imported nothing the tests
        did (a pipeline step registered only by the trainer's imports would fail to load)."""
        server = procs.start_service(self.name, model_dir, tmp_path, timeout_s=120)
        try:
            meta = orjson.loads(procs.post_json(f"{server.url}/v1/models/{self.name}:predict",
                                                orjson.dumps({"instances": [self.example]}))[1])
            assert meta["model_name"] == self.name and len(meta["predictions"]) == 1, meta
        finally:
            server.stop()

    async def test_not_ready_without_a_model_and_says_how_to_train(self, tmp_path: Path):
        async with running_client(self.build_app(tmp_path), wait_ready=False) as client:
            for _ in range(250):
                response = await client.get("/health/ready")
                if "train" in response.json()["reason"]:
                    break
                await asyncio.sleep(0.02)
            assert response.status_code == 503
            assert response.json()["status"] == "not_ready"
            assert f"services.{self.name}.train" in response.json()["reason"]
            assert (await client.get("/health/live")).status_code == 200
            predict = await client.post(self.predict_path, json={"instances": [self.example]})
            assert_problem(predict, 503)

    async def test_the_tables_example_predicts_in_the_documented_shape(self, client):
        response = await client.post(self.predict_path, json={"instances": [self.example]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_name"] == self.name and body["model_version"]
        assert len(body["predictions"]) == 1
        model_cls = type(self.app.state.model_state.model)
        assert model_cls.prediction_model is not None, "document the prediction's shape"
        model_cls.prediction_model.model_validate(body["predictions"][0])

    async def test_metadata_has_provenance_and_both_schemas(self, client):
        meta = (await client.get(f"/v1/models/{self.name}")).json()
        assert meta["name"] == self.name and meta["version"]
        assert meta["trained_at"] and meta["data_sha256"]
        assert meta["input_schema"] and meta["output_schema"]["properties"]
        assert isinstance(meta["metrics"], dict)

    async def test_bad_json_is_400(self, client):
        assert_problem(await client.post(self.predict_path, content=b"{not json"), 400)

    @pytest.mark.parametrize("body", [{}, {"instances": []}, {"instances": {"a": 1}}, [1]])
    async def test_missing_or_empty_instances_is_422_naming_instances(self, client, body):
        problem = assert_problem(await client.post(self.predict_path, json=body), 422)
        assert problem["errors"][0]["field"] == "instances"

    async def test_too_many_instances_is_422(self, client):
        body = {"instances": [self.example] * 5}
        problem = assert_problem(await client.post(self.predict_path, json=body), 422)
        assert problem["errors"][0]["field"] == "instances"

    async def test_an_invalid_instance_is_422_naming_its_field(self, client):
        instance, field = self.invalid
        body = {"instances": [self.example, instance]}
        problem = assert_problem(await client.post(self.predict_path, json=body), 422)
        assert field in [error["field"] for error in problem["errors"]], problem

    async def test_an_oversized_body_is_413(self, client):
        assert_problem(await client.post(self.predict_path, content=b" " * 30_000), 413)

        async def chunks():
            for _ in range(30):
                yield b" " * 1000

        assert_problem(await client.post(self.predict_path, content=chunks()), 413)

    async def test_an_unknown_route_is_a_404_problem(self, client):
        assert_problem(await client.get("/v1/models/nope"), 404)

    async def test_a_trailing_slash_is_a_404_not_a_redirect(self, client):
        response = await client.get(f"/v1/models/{self.name}/", headers={"host": "evil.example"})
        assert_problem(response, 404)
        assert "location" not in response.headers

    async def test_json_nested_past_the_limit_is_a_422(self, client):
        deep = "[" * 300 + "]" * 300
        for body in ('{"instances": [' + deep + "]}", '{"instances": [{"x": ' + deep + "}]}"):
            problem = assert_problem(await client.post(
                self.predict_path, content=body, headers={"content-type": "application/json"}),
                422)
            assert problem["errors"][0]["field"] == "body"

    async def test_a_body_that_is_not_json_is_a_415(self, client):
        response = await client.post(self.predict_path, content=b"instances=1",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
        assert_problem(response, 415)

    async def test_request_id_is_echoed_or_made(self, client):
        response = await client.post(self.predict_path, json={"instances": [self.example]},
                                     headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        assert re.fullmatch(r"[0-9a-f]{32}",
                            (await client.get("/health/live")).headers["x-request-id"])

    async def test_metrics_use_the_design_names_and_skip_probes(self, client):
        await client.post(self.predict_path, json={"instances": [self.example]})
        await client.get("/health/ready")
        text = (await client.get("/metrics")).text
        name = self.name
        assert (f'finfleet_http_requests_total{{route="/v1/models/{name}:predict",'
                f'service="{name}",status="200"}} 1.0') in text
        assert f'finfleet_predictions_total{{outcome="ok",service="{name}"}} 1.0' in text
        assert f'finfleet_model_info{{service="{name}",version="' in text
        assert f'finfleet_model_ready{{service="{name}"}} 1.0' in text
        assert "finfleet_http_request_duration_seconds_bucket" in text
        assert 'route="/health/ready"' not in text

    async def test_openapi_lists_every_route_with_the_models_schemas(self, client):
        spec = (await client.get("/openapi.json")).json()
        documented = {(method.upper(), path) for path, item in spec["paths"].items()
                      for method in item}
        for method, path in every_route(self.app):
            if path not in ("/openapi.json", "/docs"):
                assert (method, path) in documented, f"{method} {path} is not in /openapi.json"
        operation = spec["paths"][self.predict_path]["post"]
        body = operation["requestBody"]["content"]["application/json"]
        items = body["schema"]["properties"]["instances"]["items"]
        meta = (await client.get(f"/v1/models/{self.name}")).json()
        assert set(items.get("properties", {})) == set(meta["input_schema"].get("properties", {}))
        assert body["example"] == {"instances": [self.example]}
        assert {"200", "400", "413", "422", "503"} <= set(operation["responses"])
        prediction = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert prediction["properties"]["predictions"]["items"]["properties"]
        refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec))
        assert set(refs) <= set(spec["components"]["schemas"]), "every $ref resolves"
