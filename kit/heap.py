"""Keep the cyclic garbage collector's full collections short in a serving process.

A service's heap is mostly what it imported and loaded (FastAPI, pydantic, uvicorn, the model).
Measured on credit in 2026-12 (docs/bench.md, "The tail at 64 connections: the collector"): a
full collection there took 51-58 ms, ten of them in an 8 s run at 64 connections, each holding
every connection still; p99 was set by them. Once the model is loaded and warmed, the heap is
collected once and frozen (`gc.freeze`: later collections skip those objects), and a full
collection took 2.5-3.5 ms.

A swap unfreezes at once, so the version it replaced can be collected, and settles again
`SETTLE_AFTER_SECONDS` later, when the requests that held the old version are done (a frozen
version in a reference cycle, as a batching model is with its batcher, would otherwise stay in
memory until the next swap). The policy is the process's, as the collector is:
`kit.serve.serve` turns it on for a server process; an app built in a test process (many swaps,
a large heap of its own) leaves it off.
"""

from __future__ import annotations

import gc
import time

SETTLE_AFTER_SECONDS = 10.0  # after a swap: longer than a request keeps the version it began on

enabled = False


def unfreeze() -> None:
    """Let the collector reach every object again (the version just replaced among them)."""
    if enabled:
        gc.unfreeze()


def settle() -> dict[str, float] | None:
    """Collect everything, then freeze what is left (a no-op unless `enabled`): how many
    objects were frozen and how long the collection took, for the log. No automatic
    collection runs in between (a predict thread's would walk the whole heap once more)."""
    if not enabled:
        return None
    automatic = gc.isenabled()
    gc.disable()
    try:
        gc.unfreeze()
        started = time.perf_counter()
        gc.collect()
        collect_ms = (time.perf_counter() - started) * 1000
        gc.freeze()
    finally:
        if automatic:
            gc.enable()
    return {"frozen": gc.get_freeze_count(), "collect_ms": round(collect_ms, 1)}
