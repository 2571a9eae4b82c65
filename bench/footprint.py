"""Memory as the kernel accounts it for a process tree: PSS (proportional set size, from
/proc/<pid>/smaps_rollup), summed over the tree. Unlike RSS it splits a shared page between the
processes mapping it, so a server of many processes (Ray, a BentoML supervisor and its worker)
is not counted once per process for the libraries they share."""

from __future__ import annotations

import contextlib
from pathlib import Path


def pss_kb(pid: int, proc: Path = Path("/proc")) -> int:
    """One process's PSS in kB (0 when it is gone or unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        for line in (proc / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def pss_mb(pids: list[int], proc: Path = Path("/proc")) -> float | None:
    """The tree's PSS in MB, None when nothing of it could be read."""
    total = sum(pss_kb(pid, proc) for pid in pids)
    return round(total / 1024, 1) if total else None
