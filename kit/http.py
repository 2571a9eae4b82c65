"""The JSON bodies every finfleet HTTP app reads and writes (model services and the gateway)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from kit.errors import BadRequest, InvalidInput
from kit.openapi import merged


def json_response(payload: Any, status: int = 200) -> Response:
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status, media_type="application/json")


_CONTAINERS = frozenset((dict, list))


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether `value` nests lists/objects more than `limit` levels (level by level: no
    recursion, and no tuple per node on the hot path). A node holding no container (a flat
    instance) is passed over by one C-level look at its values' types, not a Python loop."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        below = []
        for node in level:
            children = node.values() if isinstance(node, dict) else node
            if _CONTAINERS.isdisjoint(map(type, children)):
                continue
            for child in children:
                if isinstance(child, dict | list):
                    below.append(child)
        level, depth = below, depth + 1
    return False


def load_json(body: bytes, max_depth: int) -> Any:
    """A request body as JSON: 400 when it is not JSON, 422 when it nests deeper than
    `max_depth` (orjson reads 1,024 levels but writes only 254, and no contract needs 32)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if isinstance(payload, dict | list) and nested_deeper(payload, max_depth):
        raise InvalidInput(
            f"the body nests deeper than {max_depth} levels",
            errors=[{"field": "body", "message": f"at most {max_depth} levels of nesting",
                     "type": "too_deep"}],
        )
    return payload


def parse_instances(body: bytes, max_instances: int, max_depth: int) -> list[Any]:
    """The V1 predict body: `{"instances": [...]}` with 1..max_instances entries."""
    payload = load_json(body, max_depth)
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput(
            'the body must be an object with an "instances" list',
            errors=[{"field": "instances", "message": "field required", "type": "missing"}],
        )
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise InvalidInput(
            '"instances" must be a non-empty list',
            errors=[{"field": "instances", "message": "must be a non-empty list",
                     "type": "list_type"}],
        )
    if len(instances) > max_instances:
        raise InvalidInput(
            f"{len(instances)} instances in one request; the limit is {max_instances}",
            errors=[{"field": "instances", "message": f"at most {max_instances} items",
                     "type": "too_long"}],
        )
    return instances


# Given the app and the components to add to, a hot route's OpenAPI path items.
OpenApiPaths = Callable[[FastAPI, dict[str, Any]], dict[str, Any]]


class MeasuredRoute(Route):
    """A plain Starlette route for hot paths (FastAPI's per-request dependency solving costs
    more than a fast model's predict) that names itself in the scope, as FastAPI's routes do,
    so request metrics label it by its template rather than "unmatched". `openapi` writes its
    operations, since FastAPI documents only the routes it dispatches."""

    def __init__(self, path: str, endpoint: Callable, *, methods: list[str],
                 openapi: OpenApiPaths | None = None) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.openapi = openapi

    def matches(self, scope):
        match, child_scope = super().matches(scope)
        if child_scope:
            child_scope["route"] = self
        return match, child_scope


NO_NATIVE_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}


class HotPathApp(FastAPI):
    """FastAPI with a short path for its hot POST routes (`hot_routes`, MeasuredRoutes).

    A request for a hot route skips FastAPI's own layers (server-error, exception, exit-stack,
    telemetry and body-limit middleware) and the router: ~10 ASGI hops that cost a fast model's
    request about as much as its prediction (profiled). It still passes through every user
    middleware (request id, body limit, metrics, log line; CORS where set) and its errors are
    rendered by the app's own exception handlers, so callers see the same answers, and each
    hot route's own OpenAPI operations are merged into `/openapi.json`, so `/docs` lists and
    can try them.
    """

    hot_routes: tuple[MeasuredRoute, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        # FastAPI's native OpenTelemetry asks the global providers (and the environment) on
        # every request whether it is on: ~4 % of a credit request's interpreter time
        # (profiled 2026-12). Tracing is the kit's own (kit/tracing.py, its own provider).
        kwargs.setdefault("telemetry", NO_NATIVE_TELEMETRY)
        super().__init__(**kwargs)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema plus the hot routes' operations, written afresh on each call: an
        instance schema can change when a model (re)loads."""
        paths: dict[str, Any] = {}
        components: dict[str, Any] = {}
        for route in self.hot_routes:
            if route.openapi is not None:
                paths.update(route.openapi(self, components))
        return merged(super().openapi(), paths, components)

    def build_middleware_stack(self) -> ASGIApp:
        full = super().build_middleware_stack()
        if not self.hot_routes:
            return full
        hot: ASGIApp = self._run_hot
        for cls, args, kwargs in reversed(self.user_middleware):
            hot = cls(hot, *args, **kwargs)
        routes = list(self.hot_routes)

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                for route in routes:
                    match, child_scope = route.matches(scope)
                    if match is Match.FULL:
                        scope.update(child_scope)
                        await hot(scope, receive, send)
                        return
            await full(scope, receive, send)

        return dispatch

    async def _run_hot(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await scope["endpoint"](request)
        except Exception as exc:  # rendered by the app's handlers, as the full stack would
            handler = next((self.exception_handlers[cls] for cls in type(exc).__mro__
                            if cls in self.exception_handlers), None)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)
