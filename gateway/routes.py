"""Model routes: the V1 passthrough, the friendly single-or-batch route, and the model list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from gateway.auth import client_address
from gateway.routing import Router
from gateway.traffic import policy_dict
from gateway.upstream import UpstreamRejected
from kit.catalog import example_of
from kit.errors import InvalidInput
from kit.http import MeasuredRoute, json_response, load_json, parse_instances
from kit.openapi import ANY_OBJECT, friendly_operation, predict_operation

router = APIRouter(prefix="/v1", tags=["models"])


def wants_fresh(request: Request) -> bool:
    return "no-cache" in request.headers.get("cache-control", "").lower()


def request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def caller_of(request: Request) -> str:
    """Who is asking, for a sticky canary: the guard's identity (the API key's digest) where
    it ran, else the client's address."""
    return request.scope.get("state", {}).get("caller") or client_address(request)


async def predict_response(request: Request, name: str, instances: list[Any],
                           single: bool) -> Response:
    router: Router = request.app.state.router
    try:
        result = await router.predict(name, instances, caller=lambda: caller_of(request),
                                      request_id=request_id(request),
                                      use_cache=not wants_fresh(request))
    except UpstreamRejected as exc:
        return Response(exc.body, exc.status, media_type=exc.content_type)
    body: dict[str, Any] = {"model_name": result.model_name,
                            "model_version": result.model_version}
    ids = result.prediction_ids or [None] * len(result.predictions)
    if single:
        body["prediction"] = result.predictions[0]
        body["prediction_id"] = ids[0]
    else:
        body["predictions"] = result.predictions
        body["prediction_ids"] = ids
    return json_response(body)


async def predict_v1(request: Request) -> Response:
    name = request.path_params["name"]
    request.app.state.pool.get(name)
    settings = request.app.state.settings
    instances = parse_instances(await request.body(), settings.max_instances,
                                settings.max_json_depth)
    return await predict_response(request, name, instances, single=False)


@router.get("/models")
async def list_models(request: Request) -> Response:
    """Every model: readiness, version, release, circuit, and its traffic policy."""
    state = request.app.state
    models = await state.pool.describe_all()
    for model in models:
        model["traffic"] = policy_dict(state.traffic.get(model["name"]),
                                       state.versions.candidate(model["name"]))
    return json_response({"models": models})


@router.post("/models/{name}/outcomes", tags=["outcomes"])
async def outcomes(name: str, request: Request) -> Response:
    """Passed to the model's service as sent (`POST /v1/models/<name>/outcomes` there): labels
    for earlier predictions by `prediction_id` or `request_id`; one result per item."""
    upstream = request.app.state.pool.get(name)
    status, body, content_type = await upstream.post(f"/v1/models/{name}/outcomes",
                                                     await request.body(), request_id(request))
    return Response(body, status, media_type=content_type)


@router.get("/models/{name}/traffic")
async def traffic(name: str, request: Request) -> Response:
    """The model's traffic policy, the versions on each side, how the candidate's answers
    compare with production's (shadow pairs), how fast each side answers, and each version's
    live quality on the requests that got an outcome (the model's prediction log)."""
    return json_response(await traffic_report(request, name))


async def traffic_report(request: Request, name: str) -> dict[str, Any]:
    state = request.app.state
    upstream = state.pool.get(name)  # 404 for an unknown model
    return {"model": name, "production_version": state.versions.get(name),
            "policy": policy_dict(state.traffic.get(name), state.versions.candidate(name)),
            "shadow_queue": state.router.shadows.stats(),
            "comparison": state.comparisons.summary(name),
            "live_quality": await upstream.live_quality()}


async def predict_friendly(request: Request) -> Response:
    """One object → `prediction`; a list of objects → `predictions`."""
    name = request.path_params["name"]
    request.app.state.pool.get(name)
    payload = load_json(await request.body(), request.app.state.settings.max_json_depth)
    if isinstance(payload, dict):
        return await predict_response(request, name, [payload], single=True)
    limit = request.app.state.settings.max_instances
    if isinstance(payload, list) and 0 < len(payload) <= limit:
        return await predict_response(request, name, payload, single=False)
    raise InvalidInput(
        f"the body must be one object or a list of 1 to {limit} objects",
        errors=[{"field": "body", "message": f"an object or a list of 1..{limit} objects",
                 "type": "type_error"}],
    )


# Errors either hot route can answer: the caller's, the guard's and the upstream's.
GATEWAY_ERRORS = (400, 401, 404, 413, 422, 429, 502, 503, 504)


def model_schemas(app: FastAPI, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The instance and prediction schemas the model service last described (refreshed with its
    version), or any object before it has answered."""
    pool = getattr(app.state, "pool", None)
    meta = pool.upstreams[name].metadata if pool and name in pool.upstreams else {}
    return meta.get("input_schema") or ANY_OBJECT, meta.get("output_schema") or ANY_OBJECT


def v1_paths(app: FastAPI, components: dict[str, Any]) -> dict[str, Any]:
    limit = app.state.settings.max_instances
    return {f"/v1/models/{name}:predict": predict_operation(
        name, *model_schemas(app, name), example_of(name), limit, components,
        errors=GATEWAY_ERRORS, tags=("models",)) for name in app.state.settings.upstreams}


def friendly_paths(app: FastAPI, components: dict[str, Any]) -> dict[str, Any]:
    limit = app.state.settings.max_instances
    return {f"/v1/{name}": friendly_operation(
        name, *model_schemas(app, name), example_of(name), limit, components, GATEWAY_ERRORS)
        for name in app.state.settings.upstreams}


# The two hot routes are plain Starlette routes: FastAPI's per-request dependency solving cost
# about a third of the gateway's CPU per request (profiled), and these parse their own bodies.
# Each documents one concrete path per model in OpenAPI, with that model's own schemas.
predict_routes = [
    MeasuredRoute("/v1/models/{name}:predict", predict_v1, methods=["POST"], openapi=v1_paths),
    MeasuredRoute("/v1/{name}", predict_friendly, methods=["POST"], openapi=friendly_paths),
]
