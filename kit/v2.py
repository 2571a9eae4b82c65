"""The Open Inference Protocol (KServe V2) REST routes of a model service, beside V1.

Health, server and model metadata, model readiness and infer, for the production model and
each held version. Infer decodes the tensors into V1's instances (kit/v2_codec.py) and runs
them through `predict_batch`, the same counted path V1's predict takes, so validation and
the model code are V1's own. V1 stays the fast path (a hot route); these are FastAPI routes.

Errors are the protocol's body, `{"error": "..."}`, which standard clients (tritonclient)
read: a model's 422 (a field out of its contract) is V2's 400, naming the input and instance.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from importlib import metadata as dist
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from kit.app import model_at, predict_batch, ready_model
from kit.catalog import example_of
from kit.errors import ProblemError, pydantic_errors
from kit.http import MeasuredRoute, json_response
from kit.model import ServedModel
from kit.swap import ModelState
from kit.v2_codec import (
    HEADER_LENGTH,
    NUMPY_TYPES,
    Tensor,
    chosen_outputs,
    decode_request,
    encode_response,
    tensors_of,
    v2_field,
)

EXTENSIONS = ["binary_tensor_data"]


def server_metadata() -> dict[str, Any]:
    try:
        version = dist.version("finfleet")
    except dist.PackageNotFoundError:
        version = "unknown"
    return {"name": "finfleet", "version": version, "extensions": EXTENSIONS}


def v2_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The protocol's error body; a caller's invalid input (422 in V1) is V2's 400."""
    return Response(orjson.dumps({"error": message}), 400 if status == 422 else status,
                    media_type="application/json", headers=headers)


def problem_as_v2(exc: ProblemError) -> Response:
    fields = "; ".join(f"{v2_field(str(e.get('field')))}: {e.get('message')}"
                       for e in exc.errors or ())
    return v2_error(exc.status, f"{exc.detail}: {fields}" if fields else exc.detail,
                    exc.headers)


class V2Route(APIRoute):
    """A FastAPI route whose errors answer in the protocol's body, not problem+json."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ProblemError as exc:
                return problem_as_v2(exc)
            except RequestValidationError as exc:
                fields = "; ".join(f"{e['field']}: {e['message']}" for e in pydantic_errors(exc))
                return v2_error(400, f"the request does not match the schema: {fields}")
            except HTTPException as exc:
                return v2_error(exc.status_code, str(exc.detail), exc.headers)

        return route


_TENSORS: weakref.WeakKeyDictionary[ServedModel, tuple[list[Tensor], list[Tensor]]] = \
    weakref.WeakKeyDictionary()


def model_tensors(model: ServedModel) -> tuple[list[Tensor], list[Tensor]]:
    """The model's V2 inputs and outputs, from its input schema and `prediction_model`; a model
    whose generic mapping is wrong defines `v2_tensors()` returning both lists itself."""
    found = _TENSORS.get(model)
    if found is None:
        own = getattr(model, "v2_tensors", None)
        found = own() if own else (tensors_of(model.input_schema()),
                                   tensors_of(model.output_schema()))
        _TENSORS[model] = found
    return found


def model_metadata(model: ServedModel, versions: list[str]) -> dict[str, Any]:
    inputs, outputs = model_tensors(model)
    return {"name": model.name, "versions": versions, "platform": "finfleet",
            "inputs": [t.metadata() for t in inputs],
            "outputs": [t.metadata() for t in outputs]}


def json_request(instances: list[dict[str, Any]], request_id: str | None = None
                 ) -> dict[str, Any]:
    """A V2 request in the JSON form for `instances`, each field's datatype taken from the
    first instance's value (what a client without the metadata would send): for the docs'
    example and the bench's V2 point."""
    first = instances[0]
    inputs = []
    for key, value in first.items():
        if isinstance(value, bool):
            datatype = "BOOL"
        elif isinstance(value, int | float):
            datatype = "INT64" if isinstance(value, int) else "FP64"
        else:
            datatype = "BYTES"
        data = [row[key] if datatype != "BYTES" or isinstance(row[key], str)
                else orjson.dumps(row[key]).decode() for row in instances]
        inputs.append({"name": key, "datatype": datatype, "shape": [len(data)], "data": data})
    return {"id": request_id, "inputs": inputs} if request_id else {"inputs": inputs}


TENSOR_DATA = {"type": "array", "items": {}}
INFER_REQUEST: dict[str, Any] = {
    "type": "object", "required": ["inputs"],
    "properties": {
        "id": {"type": "string"}, "parameters": {"type": "object"},
        "inputs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "shape", "datatype", "data"],
            "properties": {"name": {"type": "string"},
                           "shape": {"type": "array", "items": {"type": "integer"}},
                           "datatype": {"type": "string", "enum": [*NUMPY_TYPES, "BYTES"]},
                           "parameters": {"type": "object"}, "data": TENSOR_DATA}}},
        "outputs": {"type": "array", "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}}}}}}
ERROR_BODY = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def v2_errors(*statuses: int) -> dict[str, dict[str, Any]]:
    return {str(status): {"description": "The protocol's error body",
                     "content": {"application/json": {"schema": ERROR_BODY}}}
            for status in statuses}


def v2_router(name: str) -> APIRouter:
    """The V2 routes of the service of model `name`."""
    router = APIRouter(prefix="/v2", tags=["v2"], route_class=V2Route)

    def state_of(request: Request) -> ModelState:
        return request.app.state.model_state

    @router.get("", summary="Server metadata (V2)")
    async def server() -> Response:
        return json_response(server_metadata())

    @router.get("/health/live", summary="Server live (V2)")
    async def live() -> Response:
        return json_response({"live": True})

    @router.get("/health/ready", summary="Server ready (V2)", responses=v2_errors(503))
    async def ready(request: Request) -> Response:
        is_ready = state_of(request).ready
        return json_response({"ready": is_ready}, 200 if is_ready else 503)

    @router.get(f"/models/{name}", summary=f"{name} metadata (V2)", responses=v2_errors(503))
    async def model(request: Request) -> Response:
        state = state_of(request)
        return json_response(model_metadata(ready_model(request),
                                            list(dict.fromkeys(state.loaded_versions().values()))))

    @router.get(f"/models/{name}/versions/{{version}}", summary=f"{name} metadata of a version "
                "(V2)", responses=v2_errors(404, 503))
    async def model_version(request: Request, version: str) -> Response:
        return json_response(model_metadata(model_at(request, version), [version]))

    @router.get(f"/models/{name}/ready", summary=f"{name} ready (V2)", responses=v2_errors(503))
    async def model_ready(request: Request) -> Response:
        is_ready = state_of(request).ready
        return json_response({"name": name, "ready": is_ready}, 200 if is_ready else 503)

    @router.get(f"/models/{name}/versions/{{version}}/ready",
                summary=f"{name} ready, one version (V2)", responses=v2_errors(404, 503))
    async def version_ready(request: Request, version: str) -> Response:
        model_at(request, version)
        return json_response({"name": name, "version": version, "ready": True})

    async def unknown(other: str) -> Response:
        """Another model's route: the protocol's 404, so a client reads why."""
        return v2_error(404, f"no model {other!r} here; this service serves {name!r}")

    async def unknown_version(other: str, version: str) -> Response:
        return await unknown(other)

    for tail, method in (("", "GET"), ("/ready", "GET"), ("/infer", "POST"),
                         ("/versions/{version}", "GET"), ("/versions/{version}/ready", "GET"),
                         ("/versions/{version}/infer", "POST")):
        router.add_api_route(
            f"/models/{{other}}{tail}", unknown_version if "{version}" in tail else unknown,
            methods=[method], summary="Another model (V2): 404", responses=v2_errors(404),
            operation_id="v2_other_model" + tail.replace("/", "_").replace("{version}", "v"))

    return router


def v2_infer_routes(name: str) -> tuple[MeasuredRoute, MeasuredRoute]:
    """`POST /v2/models/<name>[/versions/<v>]/infer` as hot routes (kit/http.py), beside V1's:
    FastAPI's per-request layers cost a fast model's request about as much as its predict."""
    path, version_path = f"/v2/models/{name}/infer", f"/v2/models/{name}/versions/{{version}}/infer"

    async def infer(request: Request) -> Response:
        try:
            return await answer(request, ready_model(request))
        except ProblemError as exc:
            return problem_as_v2(exc)

    async def infer_version(request: Request) -> Response:
        try:
            return await answer(request, model_at(request, request.path_params["version"]))
        except ProblemError as exc:
            return problem_as_v2(exc)

    def openapi(app: Any, components: dict[str, Any]) -> dict[str, Any]:
        example = example_of(name)
        post = {"tags": ["v2"], "operationId": f"infer_{name}",
                "summary": f"Infer with {name} (V2)",
                "description": "One tensor per input field (see the model's V2 metadata); "
                               "one per prediction field back.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": INFER_REQUEST,
                    "example": example and json_request([example], "example-1")}}},
                "responses": {"200": {"description": "One tensor per output"},
                              **v2_errors(400, 404, 413, 503)}}
        version = {**post, "operationId": f"infer_{name}_version",
                   "summary": f"Infer with one loaded version of {name} (V2)",
                   "parameters": [{"name": "version", "in": "path", "required": True,
                                   "schema": {"type": "string"}}]}
        return {path: {"post": post}, version_path: {"post": version}}

    return (MeasuredRoute(path, infer, methods=["POST"], openapi=openapi),
            MeasuredRoute(version_path, infer_version, methods=["POST"]))


async def answer(request: Request, model: ServedModel) -> Response:
    """One V2 inference on `model`: tensors → instances → `predict_batch` → tensors."""
    settings = request.app.state.settings
    inputs, outputs = model_tensors(model)
    infer = decode_request(await request.body(), request.headers.get(HEADER_LENGTH), inputs,
                           settings.max_instances, settings.max_json_depth)
    chosen = chosen_outputs(infer, outputs)
    predictions, ids = await predict_batch(request, model, infer.instances,
                                           request.app.state.metrics)
    head: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if infer.id is not None:
        head["id"] = infer.id
    if ids is not None:  # the prediction log's ids, for outcomes (a V2 response parameter)
        head["parameters"] = {"prediction_ids": ids}
    body, header_length = encode_response(head, predictions, chosen, infer.binary)
    if header_length is None:
        return Response(body, media_type="application/json")
    return Response(body, media_type="application/octet-stream",
                    headers={HEADER_LENGTH: str(header_length)})
