"""Adaptive batching across requests: concurrent calls for one model version become one call.

Why: a MiniLM or spaCy call on 8 texts costs far less than 8 calls on one text each, and under
load requests wait for a free predict thread anyway. A `Batcher` belongs to one model object,
so a batch never mixes versions (a hot swap makes a new object, hence a new batcher).

How it adapts: at most `slots` model calls run at once (the predict pool's threads). A call
that finds no model call running and nobody queued runs at once, alone: one connection waits
for nothing. Other calls queue; a free slot takes the queue, whole callers, up to `max_items`
instances, as one call. `window_s` (mode "auto": only while another batch is running; mode
"on": always) lets a free slot wait a little for more callers first.

Callers validate their own instances before `submit` (one bad instance fails its own request,
never its neighbours'); a model error in a batch answers every caller of that batch with it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from kit.model import ServedModel

Execute = Callable[[list[Any], Any], Awaitable[list[Any]]]
MODES = ("auto", "on", "off")


class Batcher:
    """Gathers `submit` calls into calls of `execute(items, context)` (context: the first
    caller's, e.g. its request); each caller gets back its own slice of the answers."""

    def __init__(self, execute: Execute, *, max_items: int, window_s: float, slots: int,
                 mode: str = "auto", observe: Callable[[int], None] | None = None) -> None:
        if mode not in ("auto", "on"):
            raise ValueError(f"batching mode {mode!r}: a Batcher runs 'auto' or 'on'")
        self.execute = execute
        self.max_items = max_items
        self.window_s = window_s
        self.slots = slots
        self.mode = mode
        self.observe = observe or (lambda size: None)
        self.running = 0  # model calls in flight
        self._queue: deque[tuple[list[Any], Any, asyncio.Future]] = deque()
        self._queued = 0  # instances in the queue
        self._full: asyncio.Event | None = None  # set when a waiting batch could be full
        self._tasks: set[asyncio.Task] = set()  # the loop keeps only weak references

    async def submit(self, items: list[Any], context: Any = None) -> list[Any]:
        """The answers for `items`, in order, from a call that may include other callers'."""
        if self.mode == "auto" and self.running == 0 and not self._queue:
            return await self._alone(items, context)
        future = asyncio.get_running_loop().create_future()
        self._queue.append((items, context, future))
        self._queued += len(items)
        if self._full is not None and self._queued >= self.max_items:
            self._full.set()
        if self.running < self.slots:
            self._start()
        return await future  # a cancelled caller's future is skipped or its answer dropped

    async def _alone(self, items: list[Any], context: Any) -> list[Any]:
        self.running += 1
        try:
            self.observe(len(items))
            return await self.execute(items, context)
        finally:
            self.running -= 1
            self._next()

    def _start(self) -> None:
        self.running += 1
        task = asyncio.get_running_loop().create_task(self._batch())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next(self) -> None:
        if self._queue and self.running < self.slots:
            self._start()

    async def _batch(self) -> None:
        try:
            await asyncio.sleep(0)  # callers that arrived in this loop turn join
            if self.window_s > 0 and self._queued < self.max_items and (
                    self.mode == "on" or self.running > 1):
                self._full = asyncio.Event()
                try:
                    await asyncio.wait_for(self._full.wait(), self.window_s)
                except TimeoutError:
                    pass
                finally:
                    self._full = None
            callers = self._take()
            if not callers:
                return
            combined = [item for items, _, _ in callers for item in items]
            self.observe(len(combined))
            try:
                answers = await self.execute(combined, callers[0][1])
                if len(answers) != len(combined):  # a slice would hand a caller another's
                    raise RuntimeError(f"the model answered {len(answers)} of "
                                       f"{len(combined)} instances")
            except asyncio.CancelledError:  # shutting down: nobody is left waiting forever
                for _, _, future in callers:
                    future.cancel()
                raise
            except Exception as exc:  # every caller of this batch gets the model's error
                for _, _, future in callers:
                    if not future.done():
                        future.set_exception(exc)
                return
            start = 0
            for items, _, future in callers:
                if not future.done():
                    future.set_result(answers[start:start + len(items)])
                start += len(items)
        finally:
            self.running -= 1
            self._next()

    def _take(self) -> list[tuple[list[Any], Any, asyncio.Future]]:
        """Whole callers from the front, up to `max_items` instances (a bigger first caller
        goes alone); callers whose wait was cancelled are dropped."""
        callers, size = [], 0
        while self._queue:
            items, context, future = self._queue[0]
            if future.done():
                self._queue.popleft()
                self._queued -= len(items)
                continue
            if callers and size + len(items) > self.max_items:
                break
            self._queue.popleft()
            self._queued -= len(items)
            callers.append((items, context, future))
            size += len(items)
        return callers


def model_batcher(model: Any, settings: Any, execute: Execute,
                  observe: Callable[[int], None] | None = None) -> Batcher | None:
    """`model`'s own batcher, made on its first predict (None: batching is off for it): the
    settings' `batching` if set, else the model class's default (a model without its own
    `prepare` never batches). Kept on the model object, so
    each loaded version batches alone and the batcher goes with it."""
    batcher = vars(model).get("_batcher", False)
    if batcher is False:
        mode = settings.batching or model.batching
        if getattr(type(model), "prepare", None) is ServedModel.prepare:
            mode = "off"  # no per-caller validation: one bad instance would fail its batch
        window_ms = (model.batch_window_ms if settings.batch_window_ms is None
                     else settings.batch_window_ms)
        max_items = (model.batch_max_items if settings.batch_max_items is None
                     else settings.batch_max_items)
        batcher = None if mode == "off" else Batcher(
            execute, max_items=max_items, window_s=window_ms / 1000,
            slots=settings.predict_threads, mode=mode, observe=observe)
        model._batcher = batcher
    return batcher
