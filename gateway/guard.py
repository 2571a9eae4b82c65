"""One guard for every gateway route: who is calling (API key) and may they (rate limit).

An ASGI middleware rather than a per-route dependency, so any route added later (a hot route,
a router's, a fan-out or an admin route) is guarded without anyone remembering to. Only the
public paths, the probes, the metrics and the API docs, pass without a key.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth import Unauthorized, client_address
from gateway.ratelimit import RateLimited
from kit.docs import ASSETS_URL
from kit.errors import ProblemError, problem_response

ADMIN_PREFIX = "/admin/"
PUBLIC_PATHS = frozenset({"/health/live", "/health/ready", "/metrics", "/docs", "/openapi.json",
                          "/v2", "/v2/health/live", "/v2/health/ready"})


CONSOLE_DATA = "/console/api/"  # the console's pages and assets carry no data: only this is guarded


def is_public(path: str) -> bool:
    if path == "/console" or path.startswith("/console/"):
        return not path.startswith(CONSOLE_DATA)
    return path in PUBLIC_PATHS or path.startswith(f"{ASSETS_URL}/")


class GuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_public(scope["path"]):
            state = scope["app"].state
            admin = scope["path"].startswith(ADMIN_PREFIX)
            if admin or state.api_keys.enabled or state.limiter.enabled:  # else nothing to check
                try:
                    await (guard_admin if admin else guard)(Request(scope, receive))
                except ProblemError as exc:
                    response = problem_response(
                        exc.status, exc.title, exc.detail, slug=exc.slug, headers=exc.headers,
                        request_id=scope.get("state", {}).get("request_id"))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def guard(request: Request) -> None:
    """Identify the caller (401 without a valid key when keys are on), then rate-limit (429).
    A request with a missing or wrong key is limited by its address before its 401, so keys
    cannot be guessed faster than the limit."""
    state = request.app.state
    try:
        identity = state.api_keys.identify(request)
    except Unauthorized:
        await limit(state, client_address(request))
        raise
    request.scope.setdefault("state", {})["caller"] = identity  # sticky canaries use it
    await limit(state, identity)


class AdminClosed(ProblemError):
    status = 403
    title = "Admin routes closed"
    slug = "admin-closed"


async def guard_admin(request: Request) -> None:
    """Admin routes take an admin key (never a caller's API key). With no admin keys set they
    are open only where API keys are off too (a local fleet), else closed."""
    state = request.app.state
    if not state.admin_keys.enabled:
        if state.api_keys.enabled:
            raise AdminClosed("the admin routes are closed: set GATEWAY_ADMIN_KEY_SHA256 "
                              "(see `python -m gateway.auth`)")
        return
    try:
        state.admin_keys.identify(request)
    except Unauthorized as exc:
        await limit(state, client_address(request))
        raise Unauthorized("the admin routes need an admin key (Authorization: Bearer <key>); "
                           "a caller's API key is not one",
                           headers={"WWW-Authenticate": "Bearer"}) from exc


async def limit(state, identity: str) -> None:
    try:
        await state.limiter.check(identity)
    except RateLimited:
        state.metrics.rate_limited.inc()
        raise
