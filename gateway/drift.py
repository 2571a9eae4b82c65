"""`GET /v1/models/<name>/drift`: the drift monitor's report through the gateway (a passthrough
like gateway/jobs.py). An unknown model is the gateway's own 404; a monitor that is down or not
configured is a 503 in the common error format."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.http1 import KeepAliveClient, MalformedResponse
from kit.errors import ProblemError

router = APIRouter(prefix="/v1", tags=["drift"])


class MonitorUnavailable(ProblemError):
    status = 503
    title = "Drift monitor unavailable"
    slug = "monitor-unavailable"


@router.get("/models/{name}/drift")
async def drift(name: str, request: Request) -> Response:
    """Per served version: the dataset drift score and level, each feature's score and
    statistics, the thresholds and a history (`?since=2h` or unix seconds); see the monitor."""
    state = request.app.state
    state.pool.get(name)  # 404 for an unknown model
    client: KeepAliveClient | None = getattr(state, "monitor", None)
    if client is None:
        raise MonitorUnavailable("no drift monitor is configured (GATEWAY_MONITOR_URL)")
    query = request.url.query
    path = f"/v1/models/{name}/drift" + (f"?{query}" if query else "")
    headers = {"x-request-id": request.headers["x-request-id"]} \
        if "x-request-id" in request.headers else {}
    try:
        reply = await client.request("GET", path, headers=headers,
                                     timeout=state.settings.monitor_timeout, retry_safe=True)
    except (OSError, TimeoutError, MalformedResponse) as exc:
        raise MonitorUnavailable(f"the drift monitor at {state.settings.monitor_url} did not "
                                 f"answer: {exc}") from exc
    return Response(reply.body, reply.status, media_type=reply.content_type or "application/json")
