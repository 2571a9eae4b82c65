"""The app factory: every model service is this app given its model class and settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from kit.artifacts import ArtifactStore
from kit.catalog import example_of
from kit.docs import install_docs
from kit.errors import InvalidInput, NotReady, install_error_handlers
from kit.http import HotPathApp, MeasuredRoute, json_response, parse_instances
from kit.logs import json_logger
from kit.metrics import ModelMetrics
from kit.middleware import RequestContextMiddleware
from kit.model import ServedModel
from kit.openapi import ANY_OBJECT, predict_operation
from kit.settings import ServiceSettings


class ModelState:
    """Readiness of the one model a service serves: loading, ready, or failed with a reason."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        self.ready = False
        self.reason = "model is loading"
        self.calls = 0  # offloadable model calls in flight now


def create_app(
    model_cls: type[ServedModel],
    settings: ServiceSettings,
    routers: Iterable[APIRouter] = (),
) -> FastAPI:
    """Build a service app. The model loads in the background so probes answer while it loads."""
    name = model_cls.name
    logger = json_logger(name, settings.log_level)
    metrics = ModelMetrics(name)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = ThreadPoolExecutor(max_workers=settings.predict_threads, thread_name_prefix=name)
        state = ModelState(model_cls(settings))
        app.state.model_state = state
        app.state.pool = pool
        loader = asyncio.create_task(_load(state, settings, metrics, logger))
        try:
            yield
        finally:
            loader.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            close = getattr(state.model, "close", None)
            if close:
                await asyncio.to_thread(close)

    app = HotPathApp(title=f"finfleet {name}", lifespan=lifespan, docs_url=None, redoc_url=None,
                     redirect_slashes=False)
    install_docs(app)
    app.state.settings = settings
    app.state.logger = logger
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, logger=logger,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(_probe_router())
    predict_route = _predict_route(model_cls, settings, metrics)
    app.router.routes.append(predict_route)
    app.hot_routes = (predict_route,)
    app.include_router(_model_router(name, settings, metrics))
    for router in routers:
        app.include_router(router)
    return app


async def _load(
    state: ModelState, settings: ServiceSettings, metrics: ModelMetrics, logger
) -> None:
    store = ArtifactStore(settings.model_dir, state.model.name)
    started = time.perf_counter()
    try:
        artifact = await asyncio.to_thread(store.load, settings.model_version)
        await asyncio.to_thread(state.model.load, artifact)
    except Exception as exc:  # the reason is served on /health/ready, the trace goes to the log
        state.reason = f"model failed to load: {exc}"
        logger.error("model load failed", exc_info=exc, extra={"service": state.model.name})
        return
    state.ready = True
    state.reason = "ok"
    metrics.set_version(artifact.version)
    logger.info(
        "model loaded",
        extra={"service": state.model.name, "version": artifact.version,
               "load_ms": round((time.perf_counter() - started) * 1000, 1)},
    )


def ready_model(request: Request) -> ServedModel:
    """The loaded model, or a 503 that says why it is not ready."""
    state: ModelState = request.app.state.model_state
    if not state.ready:
        raise NotReady(state.reason)
    return state.model


async def run_model(request: Request, fn, *args, size: int | None = None):
    """Run a model call inline or on the bounded pool, per the model's `offload` flag; a call of
    at most `model.inline_max_instances` instances (`size`) runs inline when it is the only
    call in flight."""
    model = ready_model(request)
    if not model.offload:
        return fn(*args)
    state: ModelState = request.app.state.model_state
    state.calls += 1
    try:
        if size is not None and size <= model.inline_max_instances:
            await asyncio.sleep(0)  # requests that arrived with this one count themselves first
            if state.calls == 1:
                return fn(*args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(request.app.state.pool, fn, *args)
    finally:
        state.calls -= 1


def _probe_router() -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/health/live")
    async def live() -> Response:
        return json_response({"status": "alive"})

    @router.get("/health/ready")
    async def ready(request: Request) -> Response:
        state: ModelState = request.app.state.model_state
        body = {"status": "ready" if state.ready else "not_ready", "reason": state.reason,
                "model": state.model.name, "version": state.model.version}
        return json_response(body, 200 if state.ready else 503)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    return router


def _model_router(name: str, settings: ServiceSettings, metrics: ModelMetrics) -> APIRouter:
    router = APIRouter(prefix="/v1/models", tags=["model"])

    @router.get(f"/{name}")
    async def describe(request: Request) -> Response:
        return json_response(ready_model(request).metadata())

    return router


def _predict_route(model_cls: type[ServedModel], settings: ServiceSettings,
                   metrics: ModelMetrics) -> MeasuredRoute:
    """`POST /v1/models/<name>:predict`, the hot path, as a plain route that parses its own body."""
    name = model_cls.name

    async def predict(request: Request) -> Response:
        model = ready_model(request)
        instances = parse_instances(await request.body(), settings.max_instances,
                                    settings.max_json_depth)
        started = time.perf_counter()
        try:
            predictions = await run_model(request, model.predict, instances,
                                          size=len(instances))
        except InvalidInput:
            metrics.predictions.labels(name, "invalid").inc(len(instances))
            raise
        except Exception:
            metrics.predictions.labels(name, "error").inc(len(instances))
            raise
        metrics.predict_duration.labels(name).observe(time.perf_counter() - started)
        metrics.predictions.labels(name, "ok").inc(len(instances))
        return json_response(
            {"model_name": name, "model_version": model.version, "predictions": predictions}
        )

    def openapi(app: FastAPI, components: dict[str, Any]) -> dict[str, Any]:
        state: ModelState | None = getattr(app.state, "model_state", None)
        instance = state.model.input_schema() if state and state.ready else {}
        operation = predict_operation(name, instance or ANY_OBJECT, model_cls.output_schema(),
                                      example_of(name), settings.max_instances, components)
        return {f"/v1/models/{name}:predict": operation}

    return MeasuredRoute(f"/v1/models/{name}:predict", predict, methods=["POST"],
                         openapi=openapi)

