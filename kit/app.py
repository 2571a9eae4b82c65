"""The app factory: every model service is this app given its model class and settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from kit.admin import admin_router
from kit.batching import Batcher, model_batcher
from kit.catalog import example_of
from kit.docs import install_docs
from kit.errors import BadRequest, InvalidInput, NotReady, ProblemError, install_error_handlers
from kit.http import HotPathApp, MeasuredRoute, json_response, parse_instances
from kit.logs import json_logger
from kit.metrics import ModelMetrics, exposition, process_exiting
from kit.middleware import RequestContextMiddleware
from kit.model import ServedModel
from kit.openapi import ANY_OBJECT, predict_operation
from kit.outcomes import outcomes_router
from kit.predlog import PredictionLog
from kit.registry import open_registry
from kit.settings import ServiceSettings
from kit.swap import ModelState
from kit.tracing import install_tracing, predict_span

# On a version-addressed predict: `1`/`true` asks for a shadow prediction (one that writes no
# state), `0`/`false` (or no header) for a real one; any other value is a 400, so a misspelt
# flag never turns a shadow copy into a real, state-writing predict.
SHADOW_HEADER = "X-Finfleet-Shadow"
_SHADOW_VALUES = {"1": True, "true": True, "0": False, "false": False}


class VersionNotLoaded(ProblemError):
    status = 404
    title = "Version not loaded"
    slug = "version-not-loaded"


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
        state = ModelState(model_cls, settings, open_registry(settings, name), metrics, logger)
        app.state.model_state = state
        app.state.pool = pool
        app.state.predlog.models = state.by_version
        watcher = asyncio.create_task(state.watch())
        app.state.predlog.start()
        try:
            yield
        finally:
            try:
                watcher.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                await asyncio.to_thread(app.state.predlog.stop)
                await asyncio.to_thread(state.close)
            finally:
                process_exiting()  # a worker's live gauges end with it (kit/metrics.py)

    app = HotPathApp(title=f"finfleet {name}", lifespan=lifespan, docs_url=None, redoc_url=None,
                     redirect_slashes=False)
    install_docs(app)
    app.state.settings = settings
    app.state.logger = logger
    app.state.metrics = metrics
    app.state.predlog = PredictionLog(model_cls, settings, metrics.registry, logger)
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, logger=logger,
        max_body_bytes=settings.max_body_bytes,
    )
    install_tracing(app, settings, name, logger)  # outermost; nothing at all when off
    app.include_router(_probe_router())
    predict_route = _predict_route(model_cls, settings, metrics)
    version_route = _version_predict_route(model_cls, settings, metrics)
    from kit.v2 import v2_infer_routes, v2_router  # kit.v2 builds on this module's predict path

    v2_infer = v2_infer_routes(name)
    app.router.routes.extend((predict_route, version_route, *v2_infer))
    app.hot_routes = (predict_route, version_route, *v2_infer)
    app.include_router(_model_router(name, settings, metrics))
    app.include_router(admin_router(settings))
    app.include_router(v2_router(name))
    app.include_router(outcomes_router(model_cls))
    for router in routers:
        app.include_router(router)
    return app


def ready_model(request: Request) -> ServedModel:
    """The production model now (a swap later leaves this request on it), or a 503 that says
    why there is none."""
    state: ModelState = request.app.state.model_state
    model = state.model
    if model is None:
        raise NotReady(state.reason)
    return model


def model_at(request: Request, version: str) -> ServedModel:
    """The model of one loaded version, or a 404 naming the versions held."""
    state: ModelState = request.app.state.model_state
    model = state.by_version(version)
    if model is None:
        if not state.ready:
            raise NotReady(state.reason)
        held = ", ".join(f"{v} ({slot})" for slot, v in state.loaded_versions().items())
        raise VersionNotLoaded(f"version {version!r} of '{state.name}' is not loaded here; "
                               f"loaded: {held}")
    return model


def is_shadow(request: Request) -> bool:
    """Whether a version-addressed predict asks for a shadow prediction (`SHADOW_HEADER`)."""
    value = request.headers.get(SHADOW_HEADER)
    if value is None:
        return False
    flag = _SHADOW_VALUES.get(value.strip().lower())
    if flag is None:
        raise BadRequest(f"{SHADOW_HEADER}: {value!r} is neither 1/true nor 0/false")
    return flag


async def run_model(request: Request, fn, *args, size: int | None = None,
                    model: ServedModel | None = None):
    """Run a model call inline or on the bounded pool, per the model's `offload` flag; a call of
    at most `model.inline_max_instances` instances (`size`) runs inline when it is the only
    call in flight. `model`: the one `fn` belongs to (default: production now)."""
    model = model or ready_model(request)
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
                "model": state.name, "version": state.version,
                "release": state.release(), "loaded": state.loaded_versions(),
                "last_reload_failure": state.last_failure}
        return json_response(body, 200 if state.ready else 503)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        return Response(exposition(request.app.state.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    return router


def _model_router(name: str, settings: ServiceSettings, metrics: ModelMetrics) -> APIRouter:
    router = APIRouter(prefix="/v1/models", tags=["model"])

    @router.get(f"/{name}")
    async def describe(request: Request) -> Response:
        state: ModelState = request.app.state.model_state
        return json_response({**ready_model(request).metadata(), "release": state.release(),
                              "loaded": state.loaded_versions()})

    @router.get(f"/{name}/versions/{{version}}")
    async def describe_version(request: Request, version: str) -> Response:
        return json_response(model_at(request, version).metadata())

    return router


def _predict_route(model_cls: type[ServedModel], settings: ServiceSettings,
                   metrics: ModelMetrics) -> MeasuredRoute:
    """`POST /v1/models/<name>:predict`, the hot path, as a plain route that parses its own body."""
    name = model_cls.name

    async def predict(request: Request) -> Response:
        return await _answer(request, ready_model(request), settings, metrics)

    def openapi(app: FastAPI, components: dict[str, Any]) -> dict[str, Any]:
        state: ModelState | None = getattr(app.state, "model_state", None)
        instance = state.model.input_schema() if state and state.ready else {}
        operation = predict_operation(name, instance or ANY_OBJECT, model_cls.output_schema(),
                                      example_of(name), settings.max_instances, components)
        return {f"/v1/models/{name}:predict": operation}

    return MeasuredRoute(f"/v1/models/{name}:predict", predict, methods=["POST"],
                         openapi=openapi)


def _version_predict_route(model_cls: type[ServedModel], settings: ServiceSettings,
                           metrics: ModelMetrics) -> MeasuredRoute:
    """`POST /v1/models/<name>/versions/<version>:predict` (TF-Serving's V1 form): one held
    version by name, production or candidate, for canaries, shadows and comparisons. With
    `X-Finfleet-Shadow: 1` it is a shadow prediction (`ServedModel.predict_shadow`: no state
    written), counted in `finfleet_shadow_predictions_total` instead of the callers' counts."""
    name = model_cls.name
    path = f"/v1/models/{name}/versions/{{version}}:predict"

    async def predict(request: Request) -> Response:
        model = model_at(request, request.path_params["version"])
        return await _answer(request, model, settings, metrics, shadow=is_shadow(request))

    def openapi(app: FastAPI, components: dict[str, Any]) -> dict[str, Any]:
        state: ModelState | None = getattr(app.state, "model_state", None)
        instance = state.model.input_schema() if state and state.ready else {}
        operation = predict_operation(name, instance or ANY_OBJECT, model_cls.output_schema(),
                                      example_of(name), settings.max_instances, components)
        post = operation["post"]
        post["operationId"] = f"predict_{name}_version"
        post["summary"] = f"Predict with one loaded version of {name} (V1 protocol)"
        post["parameters"] = [{"name": "version", "in": "path", "required": True,
                               "schema": {"type": "string"},
                               "description": "A version this service holds (see "
                                              f"GET /v1/models/{name}: `loaded`)"},
                              {"name": SHADOW_HEADER, "in": "header", "required": False,
                               "schema": {"type": "string", "enum": list(_SHADOW_VALUES)},
                               "description": "`1`: a shadow prediction, which writes no "
                                              "state (no profile or history update)"}]
        post["responses"]["404"] = {"description": "That version is not loaded here"}
        return {path: operation}

    return MeasuredRoute(path, predict, methods=["POST"], openapi=openapi)


async def _answer(request: Request, model: ServedModel, settings: ServiceSettings,
                  metrics: ModelMetrics, shadow: bool = False) -> Response:
    """One predict on `model`, held for the whole request: the answer names its version.
    `shadow`: `model.predict_shadow` (writes no state), counted apart."""
    instances = parse_instances(await request.body(), settings.max_instances,
                                settings.max_json_depth)
    predictions, ids = await predict_batch(request, model, instances, metrics, shadow)
    body = {"model_name": model.name, "model_version": model.version, "predictions": predictions}
    if ids is not None:  # the log's ids, parallel to `predictions` (null: not sampled)
        body["prediction_ids"] = ids
    return json_response(body)


async def predict_batch(request: Request, model: ServedModel, instances: list[Any],
                        metrics: ModelMetrics, shadow: bool = False,
                        ) -> tuple[list[Any], list[str | None] | None]:
    """`model`'s predictions for parsed instances, counted, timed and offered to the prediction
    log, with the log's ids (None: nothing logged): what every protocol's predict route (V1
    `_answer`, V2 infer in kit/v2.py) runs, so they share one path."""
    name = model.name
    fn, counts = ((model.predict_shadow, metrics.shadow_predictions) if shadow
                  else (model.predict, metrics.predictions))
    started = time.perf_counter()
    try:
        with predict_span(request, model, len(instances), shadow):
            batcher = None if shadow else _batcher(request, model, metrics)
            if batcher is None:
                predictions = await run_model(request, fn, instances, size=len(instances),
                                              model=model)
            else:  # validated per caller, then maybe one model call with other callers'
                predictions = await batcher.submit(model.prepare(instances), request)
    except InvalidInput:
        counts.labels(name, "invalid").inc(len(instances))
        raise
    except Exception:
        counts.labels(name, "error").inc(len(instances))
        raise
    seconds = time.perf_counter() - started
    metrics.predict_duration.labels(name).observe(seconds)
    counts.labels(name, "ok").inc(len(instances))
    ids = request.app.state.predlog.offer(request.scope, model.version, instances, predictions,
                                          seconds, shadow)
    return predictions, ids


def _batcher(request: Request, model: ServedModel, metrics: ModelMetrics) -> Batcher | None:
    """`model`'s batcher (kit/batching.py); each gathered call runs like any other model call."""
    async def execute(items: list[Any], first: Request) -> list[Any]:
        return await run_model(first, model.predict_prepared, items, size=len(items),
                               model=model)

    return model_batcher(model, request.app.state.settings, execute, metrics.batch_size.observe)
