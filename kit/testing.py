"""Test helpers shared by every service's tests: run an app's lifespan and talk to it in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


@asynccontextmanager
async def running_client(
    app: FastAPI, *, wait_ready: bool = True, ready_within: float = 120.0
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan, optionally wait for /health/ready, yield an in-process client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if wait_ready:
                await wait_until_ready(client, ready_within)
            yield client


async def wait_until_ready(client: httpx.AsyncClient, ready_within: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ready_within
    while True:
        response = await client.get("/health/ready")
        if response.status_code == 200:
            return
        body = response.json()
        if "failed" in body.get("reason", "") or loop.time() > deadline:
            raise AssertionError(f"service never became ready: {body}")
        await asyncio.sleep(0.02)


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """(METHOD, path template) of every route the app dispatches, included routers' routes and
    the hot routes too (FastAPI keeps an included router as one entry in `app.routes`)."""
    return sorted({(method, context.path) for context in iter_route_contexts(app.routes)
                   for method in context.methods or () if method != "HEAD"})


class FakeClock:
    """A clock that moves only when a test sets `now`: for TTLs, buckets and breakers."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
