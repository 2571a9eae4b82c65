"""The gateway app: upstream pool, cache, versions, limiter and routes, all built in the lifespan
and kept on `app.state` so tests can build as many gateways as they like."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from gateway import admin, drift, fanout, jobs, routes, v2
from gateway.auth import ApiKeys
from gateway.cache import MemoryCache, RedisCache
from gateway.compare import Comparisons, RememberedPairs
from gateway.console import install_console
from gateway.guard import GuardMiddleware
from gateway.http1 import KeepAliveClient
from gateway.metrics import GatewayMetrics
from gateway.predictor import CachedPredictor
from gateway.ratelimit import RateLimiter
from gateway.routing import Router
from gateway.settings import GatewaySettings
from gateway.traffic import ShadowQueue, TrafficPolicies
from gateway.upstream import UpstreamPool
from gateway.versions import ModelVersions
from kit.catalog import load_catalog
from kit.docs import install_docs
from kit.errors import install_error_handlers
from kit.http import HotPathApp, json_response
from kit.logs import json_logger
from kit.middleware import UPLOAD_OVERHEAD_BYTES, RequestContextMiddleware
from kit.tracing import install_tracing


def redis_client(url: str):
    import redis.asyncio as redis

    return redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25,
                                health_check_interval=0)


def build_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    logger = json_logger("gateway", settings.log_level)
    metrics = GatewayMetrics()
    api_keys = ApiKeys(settings.api_key_sha256)
    if not api_keys.enabled:
        logger.warning("API keys are off: every caller is served. Set GATEWAY_API_KEY_SHA256 "
                       "(see `python -m gateway.auth`) outside local runs.")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        redis = redis_client(settings.redis_url) if settings.redis_url else None
        pool = UpstreamPool(settings, metrics, app.state.tracing)
        await pool.start()
        versions = ModelVersions(pool, logger)
        cache = RedisCache(redis) if redis else MemoryCache(settings.cache_max_entries)
        app.state.pool = pool
        app.state.versions = versions
        app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.burst, redis)
        app.state.predictor = CachedPredictor(pool, cache, versions, metrics, settings)
        app.state.traffic = TrafficPolicies(settings.traffic, redis)
        app.state.comparisons = Comparisons.from_catalog(load_catalog(), metrics.registry)
        router = Router(app.state.predictor, pool, versions, app.state.traffic, metrics,
                        app.state.comparisons, RememberedPairs(settings.shadow_remember_max))
        router.shadows = ShadowQueue(
            router.send_shadow, settings.shadow_queue_max, settings.shadow_workers, logger,
            on_drop=lambda model: metrics.shadow.labels(model, "dropped").inc(),
            batch_max=settings.shadow_batch_max,
            batch_wait_s=settings.shadow_batch_wait_ms / 1000)
        router.shadows.start()
        app.state.router = router
        app.state.trainer = (KeepAliveClient(settings.trainer_url, limit=4)
                             if settings.trainer_url else None)
        app.state.monitor = (KeepAliveClient(settings.monitor_url, limit=4)
                             if settings.monitor_url else None)
        refresher = asyncio.create_task(versions.refresh_forever(settings.version_refresh_seconds))
        syncer = asyncio.create_task(app.state.traffic.sync_forever(
            settings.version_refresh_seconds, logger))
        logger.info("gateway started", extra={"upstreams": sorted(settings.upstreams),
                                              "cache": "redis" if redis else "memory"})
        try:
            yield
        finally:
            refresher.cancel()
            syncer.cancel()
            await asyncio.gather(refresher, syncer, return_exceptions=True)
            await router.shadows.stop()
            await pool.close()
            for client in (app.state.trainer, app.state.monitor):
                if client is not None:
                    await client.close()
            if redis is not None:
                await redis.aclose()

    app = HotPathApp(title="finfleet gateway", lifespan=lifespan, docs_url=None, redoc_url=None,
                     redirect_slashes=False)
    install_docs(app)
    app.state.settings = settings
    app.state.logger = logger
    app.state.metrics = metrics
    app.state.api_keys = api_keys
    app.state.admin_keys = ApiKeys(settings.admin_key_sha256)
    install_error_handlers(app)
    app.add_middleware(GuardMiddleware)  # innermost: CORS preflights and request ids come first
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Cache-Control",
                           "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics, logger=logger,
                       max_body_bytes=settings.max_body_bytes,
                       uploads={"/admin/jobs": settings.max_upload_bytes + UPLOAD_OVERHEAD_BYTES})
    install_tracing(app, settings, "gateway", logger)  # outermost; nothing at all when off

    @app.get("/health/live", tags=["probes"])
    async def live() -> Response:
        return json_response({"status": "alive"})

    @app.get("/health/ready", tags=["probes"])
    async def ready(request: Request) -> Response:
        """Ready once the lifespan ran and every required upstream is ready."""
        pool: UpstreamPool | None = getattr(request.app.state, "pool", None)
        if pool is None:
            return json_response({"status": "not_ready", "reason": "starting"}, 503)
        down = await pool.not_ready(settings.required_upstreams)
        body = {"status": "not_ready" if down else "ready",
                "reason": f"upstreams not ready: {', '.join(down)}" if down else "ok"}
        return json_response(body, 503 if down else 200)

    @app.get("/metrics", tags=["probes"])
    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.router.routes[0:0] = routes.predict_routes  # the hot routes match first
    app.hot_routes = tuple(routes.predict_routes)
    app.include_router(routes.router)
    app.include_router(fanout.router)
    app.include_router(admin.router)
    app.include_router(jobs.router)
    app.include_router(drift.router)
    app.include_router(v2.router)
    install_console(app)
    return app
