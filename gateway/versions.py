"""The model version each upstream serves, for the cache's keys: learned from the services'
metadata (polled, and asked again at once when an answer names another version), ordered by
the registry change behind it.

Ordering by the change's `seq`, not by the version's name or by the last answer seen, is what
keeps the cache right through a release: a rollback is newer than the promotion it undoes
though its version is older, and while two replicas briefly serve different versions the
current one is the later change's, so it neither flips back and forth (thrashing the cache)
nor falls back to the old version. An upstream that reports no `seq` (no registry) keeps the
plain rule: the version of the last answer. A registry that was reset is believed only after
`STALE_POLLS` polls in a row in which every replica answered and none reported the version held
(a replica that is slow, failing to load, or not answering its probe never turns the gateway
back: an early version of this rule flipped back after three polls with one replica's probe
timing out mid-release).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gateway.upstream import CANDIDATE, Served, UpstreamPool

STALE_POLLS = 20


@dataclass
class Current:
    version: str
    seq: int | None
    lower_polls: int = 0  # polls in a row that reported only older changes


class ModelVersions:
    """name → version served now; `refresh_forever` polls `GET /v1/models/<name>`."""

    def __init__(self, pool: UpstreamPool, logger: logging.Logger) -> None:
        self.pool = pool
        self.logger = logger
        self._current: dict[str, Current] = {}
        self._candidates: dict[str, str | None] = {}
        self._asking: dict[str, asyncio.Task] = {}

    def get(self, name: str) -> str | None:
        current = self._current.get(name)
        return current.version if current else None

    def candidate(self, name: str) -> str | None:
        """The candidate version the replicas hold beside production (None: none does)."""
        return self._candidates.get(name)

    def seq(self, name: str) -> int | None:
        current = self._current.get(name)
        return current.seq if current else None

    def learn(self, name: str, version: str | None) -> None:
        """A version an answer carried: taken when nothing orders versions for this upstream;
        otherwise the upstream is asked what its replicas serve (once at a time)."""
        if not version:
            return
        current = self._current.get(name)
        if current is None or current.seq is None:
            self._set(name, Current(version, None))
        elif version != current.version and name not in self._asking:
            task = asyncio.get_running_loop().create_task(self.refresh_one(name))
            self._asking[name] = task
            task.add_done_callback(lambda _: self._asking.pop(name, None))

    def observe(self, name: str, served: list[Served], complete: bool = True) -> None:
        """What the replicas reported (`complete`: every replica did): the latest change
        wins."""
        if not served:
            return
        latest = max(served, key=lambda s: -1 if s.seq is None else s.seq)
        held = [s.candidate for s in served if s.candidate]
        if held or complete:  # a replica not answering says nothing about the candidate
            self._candidates[name] = latest.candidate or (held[0] if held else None)
        current = self._current.get(name)
        if latest.seq is None:
            if current is None or current.seq is None:
                self._set(name, Current(latest.version, None))
            return
        if current is None or current.seq is None or latest.seq >= current.seq:
            self._set(name, Current(latest.version, latest.seq))
        elif any(s.version == current.version for s in served):
            current.lower_polls = 0
        elif complete:
            current.lower_polls += 1
            if current.lower_polls >= STALE_POLLS:
                self.logger.warning("registry change sequence went back; following it",
                                    extra={"model": name, "held_seq": current.seq,
                                           "reported_seq": latest.seq})
                self._set(name, Current(latest.version, latest.seq))

    def _set(self, name: str, new: Current) -> None:
        previous = self._current.get(name)
        self._current[name] = new
        if previous is not None and previous.version != new.version:
            self.logger.info("model version changed",
                             extra={"model": name, "from": previous.version, "to": new.version,
                                    "seq": new.seq})

    async def refresh_one(self, name: str) -> None:
        upstream = self.pool.get(name)
        own = name in self.pool.own_candidates  # the candidate on replicas of its own
        candidate = await self.pool.beside[(name, CANDIDATE)].releases() if own else []
        served = await upstream.releases()
        self.observe(name, served, complete=len(served) == len(upstream.clients))
        if own:  # what those replicas serve is the candidate
            self._candidates[name] = candidate[0].version if candidate else None

    async def refresh(self) -> None:
        await asyncio.gather(*(self.refresh_one(name) for name in self.pool.upstreams))

    async def refresh_forever(self, every_seconds: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(every_seconds)
