"""Latency numbers for the benches: one set of percentile keys and one way to time a call.

Every bench reports `percentiles()`'s keys, named as the wrk results in `bench/` are
(`p50_ms`, `p90_ms`, `p99_ms`, `mean_ms`, `max_ms`), so an in-process number and a fleet point
read alike; `p95_ms` is there because the services' docs quote it. Timings carry wall time and
CPU time: the calling thread's CPU time is what a shared, busy machine inflates least, so it
stays comparable when other jobs share the cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

DIGITS = 3  # milliseconds to the microsecond


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p90/p95/p99 (linear interpolation between samples), mean, min and max in ms, and n."""
    if len(samples_ms) == 0:
        raise ValueError("no samples to summarise")
    ms = np.asarray(samples_ms, dtype=float)
    p50, p90, p95, p99 = np.percentile(ms, [50, 90, 95, 99])
    return {"p50_ms": _round(p50), "p90_ms": _round(p90), "p95_ms": _round(p95),
            "p99_ms": _round(p99), "mean_ms": _round(ms.mean()), "min_ms": _round(ms.min()),
            "max_ms": _round(ms.max()), "n": len(ms)}


def _round(value: float) -> float:
    return round(float(value), DIGITS)


class Stopwatch:
    """Wall and CPU milliseconds of each `with stopwatch:` block. A block may `await`: what the
    event loop runs meanwhile on this thread counts as CPU time too.

    `cpu_clock` is seconds of CPU: the calling thread by default; a bench whose work runs in a
    child process passes a clock that counts children.
    """

    def __init__(self, cpu_clock: Callable[[], float] = time.thread_time) -> None:
        self.cpu_clock = cpu_clock
        self.wall_ms: list[float] = []
        self.cpu_ms: list[float] = []
        self._started = (0.0, 0.0)

    def __enter__(self) -> Stopwatch:
        self._started = (time.perf_counter(), self.cpu_clock())
        return self

    def __exit__(self, *exc_info: object) -> None:
        wall, cpu = self._started
        self.wall_ms.append((time.perf_counter() - wall) * 1000)
        self.cpu_ms.append((self.cpu_clock() - cpu) * 1000)

    def summary(self) -> dict[str, dict[str, float]]:
        return {"wall": percentiles(self.wall_ms), "cpu": percentiles(self.cpu_ms)}


def time_calls(fn: Callable[[int], object], repeats: int, warmup: int = 20,
               cpu_clock: Callable[[], float] = time.thread_time) -> dict[str, dict[str, float]]:
    """`fn(0)` … `fn(warmup - 1)` untimed, then `repeats` timed calls `fn(warmup)` onwards: every
    call gets its own index, so a bench can hand each one a fresh input.
    Returns `{"wall": percentiles, "cpu": percentiles}`."""
    for i in range(warmup):
        fn(i)
    stopwatch = Stopwatch(cpu_clock)
    for i in range(warmup, warmup + repeats):
        with stopwatch:
            fn(i)
    return stopwatch.summary()
