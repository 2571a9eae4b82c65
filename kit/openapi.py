"""OpenAPI operations for the predict routes, which run outside FastAPI's router (kit/http.py).

FastAPI documents only the routes it dispatches, so the hot routes write their own operations
here from each model's schemas: the instance schema is the model's `input_schema()`, the answer
the model's `prediction_model`, with the table's example, and every error as problem+json.
Pydantic's `$defs` are hoisted into `components/schemas` (prefixed with the model's name, so
two models' `Transaction`s do not collide) because a `#/$defs/...` reference inside an OpenAPI
document would point at the document's root.
"""

from __future__ import annotations

import copy
from typing import Any

from kit.errors import PROBLEM_BASE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details: every error the API answers.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": [PROBLEM_BASE + "invalid-input"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string", "examples": ["instances[0].age"]},
                           "message": {"type": "string"}, "type": {"type": "string"}}}},
    },
}
ERRORS = {
    400: "The body is not JSON",
    401: "No valid API key (when keys are on)",
    404: "No such model",
    413: "The body is over the size limit",
    422: "An instance is invalid; `errors` names each field",
    429: "Over the rate limit (see Retry-After)",
    502: "The model service answered badly",
    503: "The model is not loaded yet, or its service is down",
    504: "The model service did not answer in time",
}
ANY_OBJECT: dict[str, Any] = {"type": "object", "description": "Schema known once the model loads"}


def hoist(schema: dict[str, Any], prefix: str, components: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$defs` moved into `components` as `<prefix>.<Name>`, refs rewritten."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node = {**node, "$ref": f"#/components/schemas/{prefix}.{ref[8:]}"}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    for name, definition in defs.items():
        components[f"{prefix}.{name}"] = rewrite(definition)
    return rewrite(schema)


def inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `#/$defs/...` references replaced by the definitions (no recursion in
    our bodies), for operations written through FastAPI's `openapi_extra`, which adds no
    components."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref[8:]])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def body_operation(schema: dict[str, Any], example: dict[str, Any] | None,
                   *errors: int) -> dict[str, Any]:
    """`openapi_extra` for a FastAPI route that reads its own body: the body and the errors."""
    return {"requestBody": request_body(inlined(schema), example),
            "responses": error_responses(*errors)}


def request_body(schema: dict[str, Any], example: Any | None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {"application/json": content}}


def error_responses(*statuses: int) -> dict[str, Any]:
    return {str(status): {"description": ERRORS[status],
                          "content": {"application/problem+json": {"schema": PROBLEM_REF}}}
            for status in statuses}


PREDICTION_ID: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "null"}], "examples": ["5f0c9a1e2b7d44a8c3e1"],
    "description": "The prediction log's id, for POST /v1/models/<name>/outcomes; null when "
                   "the request was not sampled into the log, or (through the gateway) the "
                   "answer came from its cache"}


def answer_schema(prediction: dict[str, Any], key: str = "predictions") -> dict[str, Any]:
    if key == "predictions":
        value: dict[str, Any] = {"type": "array", "items": prediction}
        ids = {"prediction_ids": {"type": "array", "items": PREDICTION_ID, "description":
                                  "One per prediction, in order (absent when the log is off)"}}
    else:
        value, ids = prediction, {"prediction_id": PREDICTION_ID}
    return {"type": "object", "required": ["model_name", "model_version", key],
            "properties": {"model_name": {"type": "string"},
                           "model_version": {"type": "string", "examples": ["20261201-090547"]},
                           key: value, **ids}}


def instance_list(instance: dict[str, Any], max_instances: int) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "maxItems": max_instances, "items": instance}


def predict_operation(
    name: str,
    instance: dict[str, Any],
    prediction: dict[str, Any],
    example: dict[str, Any] | None,
    max_instances: int,
    components: dict[str, Any],
    *,
    errors: tuple[int, ...] = (400, 413, 422, 503),
    tags: tuple[str, ...] = ("model",),
) -> dict[str, Any]:
    """`POST /v1/models/<name>:predict` (V1): `{"instances": [...]}` → `predictions`."""
    instance = hoist(instance, name, components)
    prediction = hoist(prediction, name, components)
    body: dict[str, Any] = {"type": "object", "required": ["instances"],
                            "properties": {"instances": instance_list(instance, max_instances)}}
    return {"post": {
        "tags": list(tags), "operationId": f"predict_{name}",
        "summary": f"Predict with {name} (V1 protocol)",
        "description": f"One to {max_instances} instances of the {name} model's input; one "
                       "prediction each, in order.",
        "requestBody": request_body(body, None if example is None else {"instances": [example]}),
        "responses": {"200": {"description": "One prediction per instance", "content": {
            "application/json": {"schema": answer_schema(prediction)}}},
            **error_responses(*errors)},
    }}


def friendly_operation(
    name: str,
    instance: dict[str, Any],
    prediction: dict[str, Any],
    example: dict[str, Any] | None,
    max_instances: int,
    components: dict[str, Any],
    errors: tuple[int, ...],
) -> dict[str, Any]:
    """The gateway's `POST /v1/<name>`: one instance → `prediction`, a list → `predictions`."""
    instance = hoist(instance, name, components)
    prediction = hoist(prediction, name, components)
    body = {"oneOf": [instance, instance_list(instance, max_instances)]}
    return {"post": {
        "tags": ["models"], "operationId": f"ask_{name}",
        "summary": f"Ask {name}: one instance, or a list of up to {max_instances}",
        "requestBody": request_body(body, example),
        "responses": {"200": {"description": "`prediction` for one instance, `predictions` for "
                                             "a list", "content": {"application/json": {
                                                 "schema": {"oneOf": [
                                                     answer_schema(prediction, "prediction"),
                                                     answer_schema(prediction)]}}}},
                      **error_responses(*errors)},
    }}


def merged(schema: dict[str, Any], paths: dict[str, Any],
           components: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's (cached) schema with the hot routes' paths and components added, not mutated."""
    existing = schema.get("components", {})
    return {**schema, "paths": {**paths, **schema.get("paths", {})},
            "components": {**existing, "schemas": {**existing.get("schemas", {}),
                                                   "Problem": PROBLEM_SCHEMA, **components}}}
