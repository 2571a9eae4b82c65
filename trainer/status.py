"""What `GET /v1/jobs/{id}` shows: the record, plus progress read from the job's events (its
trainer's steps and bars) and the tail of its log."""

from __future__ import annotations

import time
from typing import Any

from trainer.jobs import Job, JobStore


def expected_seconds(job: Job, store: JobStore) -> tuple[float, str] | None:
    """How long this job should take: the last job of the same model and parameters that
    succeeded, which is the only honest estimate a trainer without step counts has."""
    for earlier in reversed(store.all()):
        if (earlier.id != job.id and earlier.model == job.model and earlier.state == "succeeded"
                and earlier.parameters == job.parameters and earlier.started_at
                and earlier.finished_at):
            return earlier.finished_at - earlier.started_at, earlier.id
    return None


def progress(job: Job, store: JobStore) -> dict[str, Any]:
    events = store.events(job.id)
    steps = [e["step"] for e in events if "step" in e]
    bars = [e for e in events if "bar" in e]
    bar = bars[-1] if bars else None
    now = job.finished_at or time.time()
    elapsed = (now - job.started_at) if job.started_at else 0.0
    view: dict[str, Any] = {
        "percent": None, "step": steps[-1] if steps else None, "steps_done": len(steps),
        "bar": ({"name": bar["bar"], "n": bar["n"], "total": bar["total"]} if bar else None),
        "elapsed_seconds": round(elapsed, 1), "estimate_from": None,
    }
    if job.state == "succeeded":
        view["percent"] = 100.0
    elif job.state == "running":
        expected = expected_seconds(job, store)
        if expected is not None:
            seconds, source = expected
            view["percent"] = round(min(99.0, 100 * elapsed / max(seconds, 0.1)), 1)
            view["estimate_from"] = f"job {source} ({seconds:.0f} s)"
        elif bar and bar.get("total"):
            view["percent"] = round(min(99.0, 100 * bar["n"] / bar["total"]), 1)
            view["estimate_from"] = f"the {bar['bar']!r} bar"
    return view


def job_view(job: Job, store: JobStore, log_lines: int) -> dict[str, Any]:
    return {**job.model_dump(exclude={"pid"}), "progress": progress(job, store),
            "log_tail": store.log_tail(job.id, log_lines)}


def job_summary(job: Job) -> dict[str, Any]:
    return job.model_dump(include={"id", "model", "state", "created_at", "finished_at",
                                   "version", "error"})
