"""`python -m bench.floor`: the floor, a trivial FastAPI POST route on the services' own HTTP
stack (kit.serve: uvicorn, uvloop, the kit's httptools protocol and limits) answering a constant.

What a model service costs per request beyond it is the kit's middleware, validation and the
model; the bench reports every server's req/s as a ratio to this one. It reads nothing of the
body it is sent (the credit V1 body, so the bytes on the wire are the same).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic_settings import SettingsConfigDict

from kit.http import NO_NATIVE_TELEMETRY
from kit.serve import serve
from kit.settings import HttpSettings

ANSWER = b'{"predictions":[{"probability_of_default":0.5}]}'


class FloorSettings(HttpSettings):
    model_config = SettingsConfigDict(env_prefix="FLOOR_", extra="ignore",
                                      protected_namespaces=())


def build_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None,
                  telemetry=NO_NATIVE_TELEMETRY)  # as the services' HotPathApp

    @app.post("/predict")
    async def predict() -> Response:
        return Response(ANSWER, media_type="application/json")

    @app.get("/health/ready")
    async def ready() -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    return app


if __name__ == "__main__":
    serve(build_app(), FloorSettings())
