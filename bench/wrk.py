"""Drive one bench point with wrk and read its numbers from the JSON line `post.lua` prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

POST_LUA = Path(__file__).parent / "lua" / "post.lua"
RESULT_MARK = "BENCH_RESULT "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result line."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and every kind of error it counted."""

    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    socket_errors: int
    non_2xx: int

    def to_dict(self) -> dict:
        return asdict(self)


def parse_output(stdout: str) -> WrkResult:
    """The last `BENCH_RESULT {...}` line of wrk's stdout → WrkResult."""
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_MARK)]
    if not lines:
        raise WrkError(f"wrk printed no {RESULT_MARK.strip()} line; output was:\n{stdout[-2000:]}")
    raw = json.loads(lines[-1][len(RESULT_MARK):])
    duration_s = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        duration_s=round(duration_s, 3),
        requests_per_s=round(raw["requests"] / duration_s, 1) if duration_s > 0 else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=round(raw["latency_mean_us"] / 1000, 3),
        max_ms=raw["latency_max_us"] / 1000,
        socket_errors=sum(raw[f"errors_{k}"] for k in ("connect", "read", "write", "timeout")),
        non_2xx=raw["errors_status"],
    )


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if not path:
        raise WrkError("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu)")
    return path


def run_wrk(url: str, body_path: Path, *, connections: int, seconds: float,
            vary_start: int | None = None, timeout_s: float = 10.0) -> WrkResult:
    """One run with one wrk thread: the server under test keeps the other core."""
    env = {**os.environ, "BENCH_BODY": str(body_path)}
    if vary_start is not None:
        env.update(BENCH_VARY="1", BENCH_START=str(vary_start))
    argv = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds:g}s",
            f"--timeout={timeout_s:g}s", "-s", str(POST_LUA), url]
    done = subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=seconds + timeout_s + 30)
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return parse_output(done.stdout)
