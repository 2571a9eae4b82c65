"""The drift monitor's HTTP side: probes, `/metrics` (the drift series) and
`GET /v1/models/<name>/drift` (the latest per-version reports and a history of dataset scores).
Every `interval_seconds` a background task runs one pass over every model in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from kit.catalog import load_catalog
from kit.docs import install_docs
from kit.drift_window import thresholds
from kit.durations import duration_seconds
from kit.errors import BadRequest, ProblemError, install_error_handlers
from kit.http import json_response
from kit.logs import json_logger
from kit.metrics import HttpMetrics
from kit.middleware import RequestContextMiddleware
from kit.tracing import install_tracing
from monitor.settings import MonitorSettings
from monitor.watch import DriftMonitor, ModelDrift


class ModelNotWatched(ProblemError):
    status = 404
    title = "Model not found"
    slug = "model-not-found"


def parse_since(raw: str | None, now: float) -> float:
    """`?since=`: a duration back from now (`90s`, `15m`, `2h`, `7d`, `2w`) or unix seconds."""
    if raw is None or raw == "":
        return 0.0
    seconds = duration_seconds(raw)
    if seconds is not None:
        return now - seconds
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"since must be a duration (15m, 2h, 7d) or unix seconds; got "
                         f"{raw[:40]!r}") from None
    if not value >= 0:
        raise BadRequest("since must not be negative")
    return value


def drift_view(monitor: DriftMonitor, result: ModelDrift, since: float) -> dict[str, Any]:
    settings = monitor.settings
    versions = []
    for version, drift in sorted(result.versions.items(), key=lambda kv: kv[1].until or 0,
                                 reverse=True):
        view = drift.as_dict()
        points = monitor.history.get((result.model, version), ())
        view["history"] = [{"ts": ts, "score": score} for ts, score in points if ts >= since]
        versions.append(view)
    return {"model": result.model, "checked_at": result.checked_at,
            "status": "error" if result.error else "ok" if result.checked_at else "pending",
            "error": result.error, "thresholds": thresholds(),
            "window": {"seconds": settings.window_of(result.model),
                       "max_records": settings.window_max, "min_records": settings.window_min},
            "interval_seconds": settings.interval_seconds, "versions": versions}


def build_app(settings: MonitorSettings | None = None,
              monitor: DriftMonitor | None = None) -> FastAPI:
    settings = settings or MonitorSettings()
    logger = json_logger("monitor", settings.log_level)
    metrics = HttpMetrics("monitor", monitor.registry if monitor else None)
    models = settings.models or load_catalog().names
    monitor = monitor or DriftMonitor(settings, models, metrics.registry, logger)

    async def loop_forever() -> None:
        while True:
            try:
                await asyncio.to_thread(monitor.run_once)
            except Exception as exc:
                logger.error("drift run failed", extra={"error": str(exc)})
            await asyncio.sleep(settings.interval_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(loop_forever())
        logger.info("drift monitor started", extra={"models": models,
                                                    "log": "postgresql" if settings.log_url
                                                    else str(settings.log_dir)})
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            monitor.close()

    app = FastAPI(title="finfleet drift monitor", lifespan=lifespan, docs_url=None,
                  redoc_url=None, redirect_slashes=False)
    install_docs(app)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, logger=logger,
                       max_body_bytes=settings.max_body_bytes)
    install_tracing(app, settings, "monitor", logger)  # nothing at all when off
    app.state.monitor = monitor

    @app.get("/health/live", tags=["probes"])
    async def live() -> Response:
        return json_response({"status": "alive"})

    @app.get("/health/ready", tags=["probes"])
    async def ready() -> Response:
        """Ready once the first pass over every model ran (each answer then has data)."""
        done = monitor.runs > 0
        return json_response({"status": "ready" if done else "not_ready",
                              "reason": "ok" if done else "first drift run pending"},
                             200 if done else 503)

    @app.get("/metrics", tags=["probes"])
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", tags=["drift"])
    async def watched() -> Response:
        return json_response({"models": models})

    @app.get("/v1/models/{name}/drift", tags=["drift"])
    async def drift(name: str, since: str | None = None) -> Response:
        """Per served version in the window: the dataset score and level, input and output
        shares, every feature's score and statistics, the thresholds, and the dataset score's
        history (`since`: a duration like `2h` or unix seconds; default all that is kept)."""
        if name not in monitor.latest:
            raise ModelNotWatched(f"the monitor watches no model {name[:80]!r}; it watches "
                                  f"{', '.join(models)}")
        return json_response(drift_view(monitor, monitor.latest[name],
                                        parse_since(since, time.time())))

    return app
