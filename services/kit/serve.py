"""Run a service app under uvicorn on the settings' host and port (access log off: kit logs)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from services.kit.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )
