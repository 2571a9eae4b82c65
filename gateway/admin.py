"""The gateway's admin routes: each model's registry, promotion (the gate runs in the model's
own service, which has its model code), rollback, aliases and reload — forwarded to the
service's `/admin` routes. The guard lets only admin keys in (see `gateway.guard`)."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.routes import traffic_report
from gateway.traffic import TrafficPolicy
from gateway.upstream import Upstream
from kit.admin import AliasBody, ChangeBody, PromoteBody
from kit.http import json_response

router = APIRouter(prefix="/admin/models", tags=["admin"])


@router.get("/{name}")
async def registry(name: str, request: Request) -> Response:
    """Versions with their aliases and holdout metrics, and the history of changes."""
    return await _forward(request, name, "GET", "registry")


@router.post("/{name}/promote")
async def promote(name: str, body: PromoteBody, request: Request) -> Response:
    """Gate the candidate (or `version`) against production; promote when it passes (or is
    forced with a reason). A refusal is a 409 whose `table` says what failed."""
    return await _forward(request, name, "POST", "promote", _with_actor(body))


@router.post("/{name}/rollback")
async def rollback(name: str, body: ChangeBody, request: Request) -> Response:
    """Production back to its previous version."""
    return await _forward(request, name, "POST", "rollback", _with_actor(body))


@router.put("/{name}/aliases/{alias}")
async def alias(name: str, alias: str, body: AliasBody, request: Request) -> Response:
    """Point any alias but production at a version (null removes it)."""
    return await _forward(request, name, "PUT", f"aliases/{alias}", _with_actor(body))


@router.get("/{name}/traffic")
async def get_traffic(name: str, request: Request) -> Response:
    return json_response(await traffic_report(request, name))


@router.put("/{name}/traffic")
async def set_traffic(name: str, policy: TrafficPolicy, request: Request) -> Response:
    """Canary and shadow shares for the model's candidate: at once on this gateway, and on the
    others within their version poll where they share Redis (start-up policy:
    GATEWAY_TRAFFIC)."""
    request.app.state.pool.get(name)
    await request.app.state.traffic.publish(name, policy)
    request.app.state.logger.info("traffic policy set", extra={"model": name,
                                                               **policy.model_dump()})
    return json_response(await traffic_report(request, name))


@router.post("/{name}/reload")
async def reload(name: str, request: Request) -> Response:
    """Every replica checks the registry now instead of at its next poll."""
    upstream: Upstream = request.app.state.pool.get(name)
    answers = await asyncio.gather(*(upstream.admin("POST", "reload", client=client)
                                     for client in upstream.clients))
    await request.app.state.versions.refresh_one(name)
    bodies = [orjson.loads(raw) if status == 200 else {"status": status}
              for status, raw, _ in answers]
    return json_response({"replicas": bodies, "version": request.app.state.versions.get(name)})


def _with_actor(body) -> dict:
    out = body.model_dump()
    if out.get("actor") == "admin-api":
        out["actor"] = "gateway-admin"
    return out


async def _forward(request: Request, name: str, method: str, path: str,
                   body: dict | None = None) -> Response:
    upstream: Upstream = request.app.state.pool.get(name)
    status, raw, content_type = await upstream.admin(method, path, body)
    if method != "GET" and status == 200:
        await request.app.state.versions.refresh_one(name)  # the cache follows at once
    return Response(raw, status, media_type=content_type or "application/json")
