"""The Open Inference Protocol (KServe V2) at the gateway: its own server routes, and every
model route passed through to the model's service.

The gateway answers `GET /v2` and the V2 health probes itself (ready when its required
upstreams are, as `/health/ready`). Model metadata, readiness and infer go to the model's
service unchanged, body and binary tensor data included, through that upstream's pooled
client and circuit breaker, behind the same guard (API keys, rate limit) and body limit as
V1. The cache, coalescing, canary and shadow are V1's: a V2 request always reaches production.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.upstream import UpstreamPool
from kit.http import json_response
from kit.v2 import HEADER_LENGTH, INFER_REQUEST, V2Route, server_metadata, v2_errors

router = APIRouter(prefix="/v2", tags=["v2"], route_class=V2Route)
FORWARDED = ("content-type", HEADER_LENGTH.lower())


@router.get("", summary="Server metadata (V2)")
async def server() -> Response:
    return json_response({**server_metadata(), "name": "finfleet-gateway"})


@router.get("/health/live", summary="Server live (V2)")
async def live() -> Response:
    return json_response({"live": True})


@router.get("/health/ready", summary="Server ready (V2): every required upstream is",
            responses=v2_errors(503))
async def ready(request: Request) -> Response:
    pool: UpstreamPool | None = getattr(request.app.state, "pool", None)
    down = await pool.not_ready(request.app.state.settings.required_upstreams) if pool else None
    return json_response({"ready": down == []}, 200 if down == [] else 503)


def model_path(name: str, version: str | None = None, action: str = "") -> str:
    """The service's V2 path; a version goes quoted (no byte of it can end the request line)."""
    at = f"/versions/{quote(version, safe='')}" if version is not None else ""
    return f"/v2/models/{name}{at}{action}"


async def forward(request: Request, name: str, path: str) -> Response:
    """The request to model `name`'s service at `path`, its answer back as it came: a 4xx is
    the caller's (it never counts against the circuit), a 5xx or no answer the upstream's."""
    upstream = request.app.state.pool.get(name)
    headers = {k: v for k in FORWARDED if (v := request.headers.get(k)) is not None}
    rid = request.scope.get("state", {}).get("request_id")
    if rid:
        headers["X-Request-ID"] = rid
    body = await request.body() if request.method == "POST" else b""
    reply = await upstream.exchange(request.method, path, body, headers)
    upstream.judge(reply.status)
    extra = {HEADER_LENGTH: reply.header_length} if reply.header_length is not None else None
    return Response(reply.body, reply.status, media_type=reply.content_type or None,
                    headers=extra)


@router.get("/models/{name}", summary="Model metadata (V2)", responses=v2_errors(404, 503))
async def model(request: Request, name: str) -> Response:
    return await forward(request, name, model_path(name))


@router.get("/models/{name}/versions/{version}", summary="Model metadata of a version (V2)",
            responses=v2_errors(404, 503))
async def model_version(request: Request, name: str, version: str) -> Response:
    return await forward(request, name, model_path(name, version))


@router.get("/models/{name}/ready", summary="Model ready (V2)", responses=v2_errors(404, 503))
async def model_ready(request: Request, name: str) -> Response:
    return await forward(request, name, model_path(name, action="/ready"))


@router.get("/models/{name}/versions/{version}/ready", summary="Model version ready (V2)",
            responses=v2_errors(404, 503))
async def version_ready(request: Request, name: str, version: str) -> Response:
    return await forward(request, name, model_path(name, version, "/ready"))


INFER_DOC = {"requestBody": {"required": True,
                             "content": {"application/json": {"schema": INFER_REQUEST}}}}


@router.post("/models/{name}/infer", summary="Infer (V2)", openapi_extra=INFER_DOC,
             responses=v2_errors(400, 404, 413, 502, 503, 504))
async def infer(request: Request, name: str) -> Response:
    return await forward(request, name, model_path(name, action="/infer"))


@router.post("/models/{name}/versions/{version}/infer", summary="Infer with a version (V2)",
             openapi_extra=INFER_DOC, responses=v2_errors(400, 404, 413, 502, 503, 504))
async def infer_version(request: Request, name: str, version: str) -> Response:
    return await forward(request, name, model_path(name, version, "/infer"))
