"""`/console`: the web console, server-rendered Jinja2 pages whose small plain-JS scripts call
the gateway's own JSON routes (see docs/console.md for why this shape). The pages carry no
data, so they are public; every number comes through the guarded JSON routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from gateway.console_stats import model_stats
from gateway.routes import model_schemas
from kit.catalog import example_of
from kit.http import json_response

HERE = Path(__file__).parent
PREFIX = "/console"
STATIC_PREFIX = f"{PREFIX}/static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix=PREFIX, tags=["console"])
static = StaticFiles(directory=HERE / "static" / "console")


def page(request: Request, template: str, **context) -> HTMLResponse:
    names = list(request.app.state.settings.upstreams)
    return templates.TemplateResponse(request, f"console/{template}",
                                      {"models": names, "static": STATIC_PREFIX, **context})


@router.get("")
async def fleet(request: Request) -> HTMLResponse:
    return page(request, "fleet.html", title="Fleet")


@router.get("/playground/{name}")
async def playground(name: str, request: Request) -> HTMLResponse:
    request.app.state.pool.get(name)  # 404 for an unknown model
    settings = request.app.state.settings  # batch mode chunks its CSV to these limits
    limits = {"max_instances": settings.max_instances, "max_body_bytes": settings.max_body_bytes}
    return page(request, "playground.html", title=f"Playground: {name}", model=name,
                example=example_of(name), schema=model_schemas(request.app, name)[0],
                limits=limits)


@router.get("/releases/{name}")
async def releases(name: str, request: Request) -> HTMLResponse:
    request.app.state.pool.get(name)
    return page(request, "releases.html", title=f"Releases: {name}", model=name)


@router.get("/drift/{name}")
async def drift(name: str, request: Request) -> HTMLResponse:
    request.app.state.pool.get(name)
    return page(request, "drift.html", title=f"Drift & quality: {name}", model=name,
                monitor=request.app.state.monitor is not None)


@router.get("/jobs")
async def jobs(request: Request) -> HTMLResponse:
    return page(request, "jobs.html", title="Training jobs",
                trainer=request.app.state.trainer is not None)


@router.get("/api/stats")
async def stats(request: Request) -> Response:
    """Per model since start: upstream calls, failed calls, p50/p99 latency (ms)."""
    return json_response({"models": model_stats(request.app.state.metrics.registry)})


def install_console(app) -> None:
    app.include_router(router)
    app.mount(STATIC_PREFIX, static, name="console-static")
