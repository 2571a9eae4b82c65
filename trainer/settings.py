"""The trainer service's settings (env prefix TRAINER_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import REPO_ROOT, SHARED_DATA, HttpSettings


class TrainerSettings(HttpSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", extra="ignore",
                                      protected_namespaces=())

    port: int = Field(8090, ge=0, le=65535, description="Port to listen on (0: any free port)")
    model_dir: Path = Field(REPO_ROOT / "models",
                            description="The artifact store the jobs train into (the one the "
                                        "model services serve from)")
    model_dirs: dict[str, Path] = Field(
        default_factory=dict,
        description="Per-model stores that override model_dir, JSON name → folder (compose: "
                    "each model's own volume)")
    jobs_dir: Path = Field(REPO_ROOT / "jobs",
                           description="Each job's record, uploaded data, progress and log")
    max_concurrent_jobs: int = Field(1, ge=1, le=16,
                                     description="Jobs that train at once; the rest wait queued")
    max_upload_bytes: int = Field(50 * 1024 * 1024, gt=0,
                                  description="Largest training file a job may upload")
    data_roots: list[Path] = Field(
        default_factory=lambda: [SHARED_DATA],
        description="Folders whose files a job may name as its data (`data_path`); uploads "
                    "are always allowed")
    cancel_grace_seconds: float = Field(
        5.0, gt=0, description="Seconds a cancelled job's process has to stop after SIGTERM "
                               "before it is killed")
    log_tail_lines: int = Field(30, ge=1, le=1000,
                                description="Lines of the training log a job's status shows")

    def store_of(self, model: str) -> Path:
        """The model store a job for `model` trains into."""
        return self.model_dirs.get(model, self.model_dir)
