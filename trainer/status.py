"""What `GET /v1/jobs/{id}` shows: the record, plus progress read from the job's events (its
trainer's steps and bars) and the tail of its log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kit.artifacts import MANIFEST, ArtifactStore
from trainer.jobs import Job, JobStore

# A trainer process's own start (imports, data loading) before its first step: a version's
# train_seconds does not count it.
STARTUP_SECONDS = 8.0


def expected_seconds(job: Job, store: JobStore, model_dir: Path) -> tuple[float, str] | None:
    """How long this job should take: the last job of the same model and parameters that
    succeeded, else the newest version's own training time (its manifest's train_seconds;
    other data or flags may make it far off, so the percent stops at 99 until the end)."""
    for earlier in reversed(store.all()):
        if (earlier.id != job.id and earlier.model == job.model and earlier.state == "succeeded"
                and earlier.parameters == job.parameters and earlier.started_at
                and earlier.finished_at):
            return earlier.finished_at - earlier.started_at, f"job {earlier.id}"
    store_of_model = ArtifactStore(model_dir, job.model)
    versions = store_of_model.versions()
    if not versions:
        return None
    try:  # the manifest alone: loading would hash every file of the version on each poll
        manifest = json.loads((store_of_model.model_root / versions[-1] / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    seconds = manifest.get("train_seconds")
    if isinstance(seconds, int | float) and seconds > 0:
        return float(seconds) + STARTUP_SECONDS, f"version {versions[-1]}'s training"
    return None


def progress(job: Job, store: JobStore, model_dir: Path) -> dict[str, Any]:
    events = store.events(job.id)
    steps = [e["step"] for e in events if "step" in e]
    bars = [e for e in events if "bar" in e]
    bar = bars[-1] if bars else None
    now = job.finished_at or time.time()
    elapsed = (now - job.started_at) if job.started_at else 0.0
    view: dict[str, Any] = {
        "percent": None, "steps_done": len(steps),
        "step": steps[-1] if steps else ("starting the trainer" if job.state == "running"
                                         else None),
        "bar": ({"name": bar["bar"], "n": bar["n"], "total": bar["total"]} if bar else None),
        "elapsed_seconds": round(elapsed, 1), "estimate_from": None,
    }
    if job.state == "succeeded":
        view["percent"] = 100.0
    elif job.state == "running":
        expected = expected_seconds(job, store, model_dir)
        if expected is not None:
            seconds, source = expected
            view["percent"] = round(min(99.0, 100 * elapsed / max(seconds, 0.1)), 1)
            view["estimate_from"] = f"{source} ({seconds:.0f} s)"
    return view


def job_view(job: Job, store: JobStore, log_lines: int, model_dir: Path) -> dict[str, Any]:
    return {**job.model_dump(exclude={"pid"}), "progress": progress(job, store, model_dir),
            "log_tail": store.log_tail(job.id, log_lines)}


def job_summary(job: Job) -> dict[str, Any]:
    return job.model_dump(include={"id", "model", "state", "created_at", "finished_at",
                                   "version", "error"})
