"""Keep the cyclic garbage collector's full collections short in a serving process.

A service's heap is mostly what it imported and loaded (FastAPI, pydantic, uvicorn, the model).
Measured on credit in 2026-12 (docs/bench.md, "The tail at 64 connections: the collector"): a
full collection there took 51-58 ms, ten of them in an 8 s run at 64 connections, each holding
every connection still; p99 was set by them. Once the model is loaded and warmed, the heap is
collected once and frozen (`gc.freeze`: later collections skip those objects), and a full
collection took 2.5-3.5 ms.

A swap unfreezes first, so the version it replaced is collected, then freezes the new heap:
one full collection per swap, none in between. The policy is the process's, as the collector
is: `kit.serve.serve` turns it on for a server process, an app built in a test process (many
swaps, a large heap of its own) leaves it off.
"""

from __future__ import annotations

import gc
import time

enabled = False


def settle() -> dict[str, float] | None:
    """Collect everything, then freeze what is left (a no-op unless `enabled`): how many
    objects were frozen and how long the collection took, for the log."""
    if not enabled:
        return None
    gc.unfreeze()
    started = time.perf_counter()
    gc.collect()
    collect_ms = (time.perf_counter() - started) * 1000
    gc.freeze()
    return {"frozen": gc.get_freeze_count(), "collect_ms": round(collect_ms, 1)}
