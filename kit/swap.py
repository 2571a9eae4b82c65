"""Hot swap: the versions a service holds, kept in step with its registry alias, no restart.

A check resolves the alias; when it has moved, the new version is fetched (every file's sha256
verified), loaded into a fresh model object that takes over the old one's state, and warmed
with one prediction — all in a worker thread while the old version keeps serving — and then
replaces it in one assignment. A request holds the model object it started with, so it
finishes on that version and its answer names it. A version that fails any step never replaces
a working one: the failure is kept for `/health/ready`, counted, logged, and not retried until
the alias moves again (or a `reload` asks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from kit import heap
from kit.catalog import example_of
from kit.metrics import ModelMetrics
from kit.model import ServedModel
from kit.registry import CANDIDATE, Registry, Resolved
from kit.settings import ServiceSettings

PRODUCTION_SLOT = "production"
CANDIDATE_SLOT = "candidate"


class ModelState:
    """The production model (the alias served, or a pinned version), optionally the candidate,
    and readiness: ready once a production version serves."""

    def __init__(self, model_cls: type[ServedModel], settings: ServiceSettings,
                 registry: Registry, metrics: ModelMetrics, logger: logging.Logger) -> None:
        self.name = model_cls.name
        self.model_cls = model_cls
        self.settings = settings
        self.registry = registry
        self.metrics = metrics
        self.logger = logger
        self.models: dict[str, ServedModel] = {}  # slot → model
        self.releases: dict[str, Resolved] = {}  # slot → what the registry said
        self.reason = "model is loading"
        self.last_failure: dict[str, Any] | None = None
        self._failed: dict[str, str] = {}  # slot → version that failed to load
        self._lock = asyncio.Lock()
        self._settle_after: float | None = None  # seconds, when a check swapped (kit/heap.py)
        self._settle_handle: asyncio.TimerHandle | None = None
        self.calls = 0  # offloadable model calls in flight now

    @property
    def model(self) -> ServedModel | None:
        return self.models.get(PRODUCTION_SLOT)

    @property
    def ready(self) -> bool:
        return PRODUCTION_SLOT in self.models

    @property
    def version(self) -> str:
        model = self.model
        return model.version if model else "unloaded"

    def by_version(self, version: str) -> ServedModel | None:
        for model in list(self.models.values()):
            if model.version == version:
                return model
        return None

    def loaded_versions(self) -> dict[str, str]:
        return {slot: model.version for slot, model in self.models.items()}

    def release(self) -> dict[str, Any] | None:
        """What `/health/ready` and the metadata say about the version served."""
        production = self.releases.get(PRODUCTION_SLOT)
        if production is None:
            return None
        out = asdict(production)
        if self.settings.model_version:
            out["pinned"] = True
        if production.fallback:
            out["note"] = ("no alias is set yet: serving the newest version; "
                           "`python -m kit.releases promote` sets production")
        return out

    async def watch(self) -> None:
        """Check at once, then every `registry_poll_seconds` (never, when 0)."""
        await self.check()
        every = self.settings.registry_poll_seconds
        while every > 0:
            await asyncio.sleep(every)
            await self.check()

    async def check(self, *, retry_failed: bool = False) -> dict[str, Any]:
        """Bring every slot in step with its alias; what each slot serves afterwards."""
        async with self._lock:
            if retry_failed:
                self._failed.clear()
            if self.settings.model_version:
                if not self.ready:
                    pinned = Resolved("pinned", self.settings.model_version, 0)
                    await self._swap(PRODUCTION_SLOT, pinned)
            else:
                await self._follow(PRODUCTION_SLOT, self.settings.model_alias)
            if self.settings.serve_candidate and self.ready:
                await self._follow(CANDIDATE_SLOT, CANDIDATE)
            if self._settle_after is not None:
                self._schedule_settle(self._settle_after)
                self._settle_after = None
            return {"serving": self.loaded_versions(), "release": self.release(),
                    "last_failure": self.last_failure}

    async def _follow(self, slot: str, alias: str) -> None:
        try:
            resolved = await asyncio.to_thread(self.registry.resolve, alias)
        except Exception as exc:  # an unreachable registry: keep serving what we have
            self._fail(slot, None, f"the registry could not be read: {exc}", exc)
            return
        if resolved is None:
            if slot == CANDIDATE_SLOT:
                if self.models.pop(slot, None) is not None:
                    self._settle_after = heap.SETTLE_AFTER_SECONDS
                self.releases.pop(slot, None)
            elif not self.ready:
                self.reason = (f"no trained '{self.name}' model to serve; run `python -m "
                               f"services.{self.name}.train` (or `make models`)")
            return
        current = self.models.get(slot)
        if current is not None and current.version == resolved.version:
            if self.releases.get(slot) != resolved:  # the same version by a newer change
                self.releases[slot] = resolved
                self._publish()
            return
        if self._failed.get(slot) == resolved.version:
            return
        await self._swap(slot, resolved)

    async def _swap(self, slot: str, resolved: Resolved) -> None:
        started = time.perf_counter()
        same = self.by_version(resolved.version)
        try:
            model = same or await asyncio.to_thread(self._prepare, resolved.version)
        except Exception as exc:
            self._fail(slot, resolved.version, f"version {resolved.version} failed to load: "
                                               f"{exc}", exc)
            return
        previous = self.models.get(slot)
        self.models[slot] = model
        self.releases[slot] = resolved
        self._failed.pop(slot, None)
        if previous is not None:  # collectable once its requests are done
            self._settle_after = heap.SETTLE_AFTER_SECONDS
        elif same is None and self._settle_after is None:  # a first load: nothing to wait for
            self._settle_after = 0.0
        if slot == PRODUCTION_SLOT:
            self.reason = "ok"
            self.metrics.reloads.labels(self.name, "swapped").inc()
        self._publish()
        self.logger.info("model version serving", extra={
            "service": self.name, "slot": slot, "version": resolved.version,
            "from": previous.version if previous else None, "seq": resolved.seq,
            "load_ms": round((time.perf_counter() - started) * 1000, 1)})

    def _schedule_settle(self, delay: float) -> None:
        """Settle the heap now (after a first load) or `delay` seconds from now (after a swap:
        unfrozen at once, so the version replaced is collectable meanwhile); a later swap
        moves a pending settle."""
        if self._settle_handle is not None:
            self._settle_handle.cancel()
            self._settle_handle = None
        if delay <= 0:
            self._settle()
            return
        heap.unfreeze()
        self._settle_handle = asyncio.get_running_loop().call_later(delay, self._settle)

    def _settle(self) -> None:
        self._settle_handle = None
        settled = heap.settle()
        if settled:
            self.logger.info("heap settled", extra={"service": self.name, **settled})

    def _prepare(self, version: str) -> ServedModel:
        """Fetch and verify, load, take over the state, warm: everything before the swap."""
        artifact = self.registry.fetch(version)
        model = self.model_cls(self.settings)
        previous = self.model
        if previous is not None:
            model.adopt_state(previous)
        model.load(artifact)
        model.warm_up(example_of(self.name))
        return model

    def _fail(self, slot: str, version: str | None, message: str, exc: Exception) -> None:
        if version is not None:
            self._failed[slot] = version
            self.metrics.reloads.labels(self.name, "failed").inc()
        self.last_failure = {"slot": slot, "version": version, "error": message,
                             "at": datetime.now(UTC).isoformat(timespec="seconds")}
        if not self.ready:
            self.reason = f"model failed to load: {message}"
        self.logger.error("model load failed", exc_info=exc,
                          extra={"service": self.name, "slot": slot, "version": version})

    def _publish(self) -> None:
        production = self.releases.get(PRODUCTION_SLOT)
        if self.ready and production is not None:
            self.metrics.set_version(self.version)
            self.metrics.release_seq.labels(self.name).set(production.seq)

    def close(self) -> None:
        """Close the production model (candidates share its state: closed with it)."""
        model = self.model
        close = getattr(model, "close", None)
        if close:
            close()
