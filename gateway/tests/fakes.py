"""A fake model service speaking the kit contract over real TCP (the gateway's HTTP client
needs a socket): counts calls, can change version, slow down, fail, or refuse bad input."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

FAKE_INPUT_SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}}
FAKE_OUTPUT_SCHEMA = {"type": "object", "properties": {"double": {"type": "number"}}}


class FakeModelService:
    """Predicts `{"double": 2 * x}` for instances `{"x": number}`; 422 names bad fields."""

    def __init__(self, name: str, version: str = "v1") -> None:
        self.name = name
        self.version = version
        self.delay = 0.0
        self.fail_status: int | None = None
        self.candidate: str | None = None  # a second version, answered by version-addressed
        self.candidate_fail_status: int | None = None  # predicts; failing on its own
        self.candidate_calls: list[dict[str, Any]] = []
        self.predict_calls = 0
        self.instances_seen: list[Any] = []
        self.request_ids: list[str | None] = []
        self.traceparents: list[str | None] = []
        self.logging = False  # answers carry prediction_ids, as a service with its log on
        self.outcome_bodies: list[Any] = []
        app = web.Application()
        app.router.add_get("/health/ready", self._ready)
        app.router.add_get("/v1/models/{tail}", self._describe)
        app.router.add_post("/v1/models/{tail}", self._predict)
        app.router.add_post("/v1/models/{name}/versions/{tail}", self._predict_version)
        app.router.add_route("*", "/v2/{tail:.*}", self._v2)
        self.v2_calls: list[dict[str, Any]] = []
        app.router.add_post("/v1/models/{name}/outcomes", self._outcomes)
        self.server = TestServer(app, host="127.0.0.1")

    async def start(self) -> FakeModelService:
        await self.server.start_server()
        self.url = str(self.server.make_url("")).rstrip("/")
        return self

    async def stop(self) -> None:
        await self.server.close()

    async def _ready(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ready", "reason": "ok", "model": self.name})

    async def _describe(self, request: web.Request) -> web.Response:
        loaded = {"production": self.version}
        if self.candidate:
            loaded["candidate"] = self.candidate
        return web.json_response({"name": self.name, "version": self.version,
                                  "loaded": loaded,
                                  "trained_at": "2026-01-01T00:00:00+00:00",
                                  "input_schema": FAKE_INPUT_SCHEMA,
                                  "output_schema": FAKE_OUTPUT_SCHEMA})

    async def _predict(self, request: web.Request) -> web.Response:
        if request.match_info["tail"] != f"{self.name}:predict":
            return web.json_response({"status": 404, "title": "Not Found"}, status=404)
        self.predict_calls += 1
        self.request_ids.append(request.headers.get("X-Request-ID"))
        self.traceparents.append(request.headers.get("traceparent"))
        body = await request.json()
        instances = body["instances"]
        self.instances_seen.extend(instances)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status:
            return web.json_response({"status": self.fail_status, "detail": "boom"},
                                     status=self.fail_status)
        errors = [{"field": f"instances[{i}].x", "message": "must be a number", "type": "float"}
                  for i, inst in enumerate(instances)
                  if "x" in inst and not isinstance(inst["x"], int | float)]
        if errors:
            return web.json_response(
                {"type": "https://finfleet.dev/problems/invalid-input", "title": "Invalid input",
                 "status": 422, "detail": "bad", "errors": errors},
                status=422, content_type="application/problem+json")
        answer = {
            "model_name": self.name, "model_version": self.version,
            "predictions": [{"double": inst["x"] * 2, "version": self.version} if "x" in inst
                            else {"echo": inst, "version": self.version} for inst in instances],
        }
        if self.logging:
            answer["prediction_ids"] = [f"p{self.predict_calls}-{i}"
                                        for i in range(len(instances))]
        return web.json_response(answer)

    async def _outcomes(self, request: web.Request) -> web.Response:
        """Answers as the kit does for a known id, and 422 for a body without outcomes."""
        body = await request.json()
        self.outcome_bodies.append(body)
        if not body.get("outcomes"):
            return web.json_response({"status": 422, "title": "Invalid input"}, status=422,
                                     content_type="application/problem+json")
        return web.json_response({"model_name": self.name, "stored": len(body["outcomes"]),
                                  "unknown": 0, "request_id": request.headers.get("X-Request-ID")})

    async def _predict_version(self, request: web.Request) -> web.Response:
        version = request.match_info["tail"].removesuffix(":predict")
        if version != self.candidate:
            return web.json_response({"status": 404, "title": "Version not loaded"}, status=404)
        body = await request.json()
        self.candidate_calls.append({"instances": body["instances"],
                                     "shadow": request.headers.get("X-Finfleet-Shadow"),
                                     "traceparent": request.headers.get("traceparent"),
                                     "served_by": request.headers.get("X-Finfleet-Served-By")})
        if self.candidate_fail_status:
            return web.json_response({"status": self.candidate_fail_status, "detail": "boom"},
                                     status=self.candidate_fail_status)
        return web.json_response({
            "model_name": self.name, "model_version": version,
            "predictions": [{"double": inst.get("x", 0) * 3, "version": version}
                            for inst in body["instances"]]})

    async def _v2(self, request: web.Request) -> web.Response:
        """Any V2 route: recorded; `fail_status` answers `{"error"}` with it; an infer body
        `bad` is a 400; else a binary-data answer (a 2-byte JSON header, then 3 bytes)."""
        body = await request.read()
        self.v2_calls.append({"method": request.method, "path": request.path, "body": body,
                              "headers": request.headers.copy()})  # case-insensitive
        if self.fail_status or body == b"bad":
            return web.json_response({"error": "boom"}, status=self.fail_status or 400)
        return web.Response(body=b"{}\x01\x02\x03", content_type="application/octet-stream",
                            headers={"Inference-Header-Content-Length": "2"})
