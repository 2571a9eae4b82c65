"""The dependency every `/v1` route shares: who is calling (API key) and may they (rate limit)."""

from __future__ import annotations

from fastapi import Request

from gateway.ratelimit import RateLimited


async def guard(request: Request) -> None:
    state = request.app.state
    identity = state.api_keys.identify(request)
    try:
        await state.limiter.check(identity)
    except RateLimited:
        state.metrics.rate_limited.inc()
        raise
