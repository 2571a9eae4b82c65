"""The model version each upstream serves, learned from its answers and refreshed in the
background, so cache keys follow a new model without the gateway being told."""

from __future__ import annotations

import asyncio
import logging

from gateway.upstream import UpstreamPool


class ModelVersions:
    """name → version last seen; `refresh_forever` polls `GET /v1/models/<name>`."""

    def __init__(self, pool: UpstreamPool, logger: logging.Logger) -> None:
        self.pool = pool
        self.logger = logger
        self._versions: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self._versions.get(name)

    def learn(self, name: str, version: str | None) -> None:
        if version and self._versions.get(name) != version:
            previous = self._versions.get(name)
            self._versions[name] = version
            if previous is not None:
                self.logger.info("model version changed",
                                 extra={"model": name, "from": previous, "to": version})

    async def refresh(self) -> None:
        async def one(name: str) -> None:
            self.learn(name, await self.pool.get(name).model_version())

        await asyncio.gather(*(one(name) for name in self.pool.upstreams))

    async def refresh_forever(self, every_seconds: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(every_seconds)
