"""A training job's record and the folder that keeps it: `jobs_dir/<id>/job.json` (written
atomically), beside its uploaded data, its progress events and its log."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED = frozenset({"succeeded", "failed", "cancelled"})


class Parameters(BaseModel):
    """What a job may ask of its trainer: each field maps to one trainer flag."""

    model_config = ConfigDict(extra="forbid")

    quick: bool = Field(False, description="--quick: small and fast (smoke runs)")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="--seed: the training seed")
    target: str | None = Field(None, pattern=r"^[A-Za-z0-9_. -]{1,64}$",
                               description="--target: the label column of a credit CSV")
    oos_target: str | None = Field(
        None, pattern=r"^(recall|precision)=(0?\.[0-9]*[1-9][0-9]*|1(\.0*)?)$",
        examples=["recall=0.9"],
        description="--oos-target: intent's out-of-scope operating point, recall=R or "
                    "precision=P, met on validation (docs/intent.md)")


# The parameters only some trainers take: parameter → the models whose trainer has the flag.
MODEL_ONLY = {"target": frozenset({"credit"}), "oos_target": frozenset({"intent"})}


class Job(BaseModel):
    id: str
    model: str
    state: State = "queued"
    parameters: Parameters = Field(default_factory=Parameters)
    data: dict[str, Any] = Field(default_factory=dict)  # kind, path, bytes, filename
    created_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    pid: int | None = None
    exit_code: int | None = None
    version: str | None = None  # the version the job saved (registered as candidate)
    metrics: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def new_id() -> str:
    """Sortable by creation: time first, then randomness."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]


class JobStore:
    """Every job under `root`, one folder each; a record survives the trainer's restart."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def create(self, job: Job) -> Job:
        self.folder(job.id).mkdir(parents=True, exist_ok=True)
        self.save(job)
        return job

    def save(self, job: Job) -> None:
        path = self.folder(job.id) / "job.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(job.model_dump_json(indent=1))
        os.replace(temporary, path)

    def get(self, job_id: str) -> Job | None:
        if not job_id.replace("-", "").isalnum():
            return None
        try:
            return Job.model_validate_json((self.folder(job_id) / "job.json").read_text())
        except (OSError, ValueError):
            return None

    def all(self) -> list[Job]:
        jobs = (self.get(path.name) for path in sorted(self.root.iterdir()) if path.is_dir())
        return [job for job in jobs if job is not None]

    def progress_file(self, job_id: str) -> Path:
        return self.folder(job_id) / "progress.jsonl"

    def log_file(self, job_id: str) -> Path:
        return self.folder(job_id) / "train.log"

    def events(self, job_id: str) -> list[dict[str, Any]]:
        try:
            lines = self.progress_file(job_id).read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line being written
        return events

    def log_tail(self, job_id: str, lines: int) -> list[str]:
        """The log's last lines; tqdm's carriage-return redraws count as lines of their own."""
        try:
            with open(self.log_file(job_id), "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 64 * 1024))
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return []
        parts = [p.rstrip() for p in text.replace("\r", "\n").split("\n")]
        return [p for p in parts if p][-lines:]
