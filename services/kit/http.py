"""The JSON bodies every finfleet HTTP app reads and writes (model services and the gateway)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.routing import Route

from services.kit.errors import BadRequest, InvalidInput


def json_response(payload: Any, status: int = 200) -> Response:
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status, media_type="application/json")


def parse_instances(body: bytes, max_instances: int) -> list[Any]:
    """The V1 predict body: `{"instances": [...]}` with 1..max_instances entries."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
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


class MeasuredRoute(Route):
    """A plain Starlette route for hot paths (FastAPI's per-request dependency solving costs
    more than a fast model's predict) that names itself in the scope, as FastAPI's routes do,
    so request metrics label it by its template rather than "unmatched"."""

    def matches(self, scope):
        match, child_scope = super().matches(scope)
        if child_scope:
            child_scope["route"] = self
        return match, child_scope
