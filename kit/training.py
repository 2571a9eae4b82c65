"""TrainingRun: what every service's trainer shares, so its train.py keeps only data → fit →
evaluation: the staging folder, progress, the manifest's core fields, parity checks, the frame
of report.md and the command-line flags.

    with TrainingRun("credit", model_dir, libraries=("xgboost", "numpy")) as run:
        ...                                  # fit, writing the model's files into run.staging
        run.record(data=..., data_sha256=..., parameters=..., metrics=..., input_schema=...)
        run.write_report("credit model", body_lines)
        artifact = run.save()
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kit.artifacts import Artifact, ArtifactError, ArtifactStore, flatten, library_versions
from kit.registry import open_registry
from kit.releases import register_candidate
from kit.settings import REPO_ROOT

REPORT = "report.md"


class ParityError(ArtifactError):
    """An exported model that does not reproduce the fitted one: it is never saved, so never
    served."""


def check_parity(what: str, exported: Any, reference: Any, tolerance: float) -> float:
    """The largest absolute difference between two models' outputs on the same rows; above
    `tolerance` (or NaN) it is a ParityError naming both numbers."""
    difference = float(np.max(np.abs(np.asarray(exported, dtype=np.float64)
                                     - np.asarray(reference, dtype=np.float64))))
    if not difference <= tolerance:
        raise ParityError(f"{what} parity failed: max |Δ| = {difference:.2e} "
                          f"> tolerance {tolerance:g}")
    return difference


# Where a training job's watcher (the trainer service) reads progress as JSON lines: each step,
# bar positions (at most every BAR_EVENT_SECONDS) and the saved version. Unset: none written.
PROGRESS_FILE_ENV = "FINFLEET_PROGRESS_FILE"
BAR_EVENT_SECONDS = 0.5


class ProgressEvents:
    """The JSON-lines side of `Progress`, for a process that watches this run from outside."""

    def __init__(self, path: str | None) -> None:
        self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self.started = time.perf_counter()

    def emit(self, **event: Any) -> None:
        if self._file is None:
            return
        event["t"] = round(time.perf_counter() - self.started, 3)
        self._file.write(json.dumps(event, default=str) + "\n")
        self._file.flush()


class _ReportingBar(tqdm):
    """A tqdm bar that also reports its position to the run's `ProgressEvents`."""

    def __init__(self, *args: Any, events: ProgressEvents, **kwargs: Any) -> None:
        self._events = events
        self._reported = 0.0
        super().__init__(*args, **kwargs)
        if not self.disable:
            self._report(force=True)

    def update(self, n: float | None = 1) -> bool | None:
        shown = super().update(n)
        if not self.disable:
            self._report()
        return shown

    def close(self) -> None:
        if not self.disable:
            self._report(force=True)
        super().close()

    def _report(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._reported >= BAR_EVENT_SECONDS:
            self._reported = now
            self._events.emit(bar=self.desc, n=self.n, total=self.total)


class Progress:
    """Timestamped lines (`[  12.3s] message`) on stdout and tqdm bars on stderr, or nothing at
    all when disabled (tests, benchmarks that print JSON); with `$FINFLEET_PROGRESS_FILE` set,
    the same steps and bar positions as JSON lines (the trainer service's jobs read them)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()
        self.events = ProgressEvents(os.environ.get(PROGRESS_FILE_ENV) if enabled else None)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def say(self, message: str) -> None:
        if self.enabled:
            tqdm.write(f"[{self.elapsed():6.1f}s] {message}", file=sys.stdout)
            sys.stdout.flush()
            self.events.emit(step=message)

    def bar(self, iterable: Iterable, desc: str, *, total: int | None = None,
            unit: str = "it") -> tqdm:
        return _ReportingBar(iterable, desc=desc, total=total, unit=unit, leave=False,
                             disable=not self.enabled, events=self.events)


class TrainingRun:
    """One training run of the model `name`, saved as a new version under `model_dir/<name>/`.

    The staging folder is made in `model_dir` itself, so saving is a rename within one file
    system, and it is removed when the block ends however it ends: an exception inside the run
    leaves neither a staging folder nor a half-written version behind.
    """

    def __init__(self, name: str, model_dir: Path | str, *, libraries: Sequence[str] = (),
                 progress: bool = True, register: bool = True) -> None:
        self.name = name
        self.register = register  # make the saved version the candidate (see kit.releases)
        self.store = ArtifactStore(model_dir, name)
        self.libraries = tuple(libraries)
        self.progress = Progress(progress)
        self.manifest: dict[str, Any] | None = None
        self._staging: Path | None = None

    def __enter__(self) -> TrainingRun:
        _stop_on_sigterm()
        self.store.root.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.name}-staging-",
                                              dir=self.store.root))
        self._staging.chmod(0o755)  # mkdtemp's 0700 would make the saved version private
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self._staging = None

    @property
    def staging(self) -> Path:
        """Where the model's files go until `save` moves them into place as the new version."""
        if self._staging is None:
            raise RuntimeError("a TrainingRun has a staging folder only inside its with-block")
        return self._staging

    def say(self, message: str) -> None:
        self.progress.say(f"{self.name}: {message}")

    def bar(self, iterable: Iterable, desc: str, *, total: int | None = None,
            unit: str = "it") -> tqdm:
        return self.progress.bar(iterable, desc, total=total, unit=unit)

    def record(self, *, data: str, data_sha256: str, parameters: dict[str, Any],
               metrics: dict[str, Any], input_schema: Any, **extra: Any) -> dict[str, Any]:
        """The manifest: the fields every model records, then the service's own (`extra`),
        the library versions and the seconds the run has taken so far. `name`, `version`,
        `created_at` and `files` are ArtifactStore.save's to write."""
        self.manifest = {
            "data": data, "data_sha256": data_sha256, "parameters": parameters,
            "metrics": metrics, "input_schema": input_schema, **extra,
            "libraries": library_versions(*self.libraries),
            "train_seconds": round(self.progress.elapsed(), 1),
        }
        return self.manifest

    def write_report(self, title: str, body: Iterable[str]) -> Path:
        """report.md in the staging folder: the title, the data line, the service's own
        sections (`body`), then the parameters."""
        if self.manifest is None:
            raise RuntimeError("record() the manifest before writing the report")
        path = self.staging / REPORT
        path.write_text(report_text(title, self.manifest, body), encoding="utf-8")
        return path

    def save(self) -> Artifact:
        """Move the staging folder into place as a new, hashed version."""
        if self.manifest is None:
            raise RuntimeError("record() the manifest before saving")
        artifact = self.store.save(self.staging, self.manifest)
        self.say(f"saved {artifact.path}")
        self.progress.events.emit(saved=artifact.version, metrics=self.manifest.get("metrics"))
        if self.register:
            registry = open_registry(_RegistryTarget(self.store.root), self.name)
            for change in register_candidate(registry, artifact, actor="train"):
                self.say(f"{change.alias} → {change.to_version} ({change.reason})")
        return artifact


def _stop_on_sigterm() -> None:
    """SIGTERM (a cancelled training job) ends the run as an exception would, so the with-block
    removes its staging folder; only the main thread may set a handler, and one already set by
    the program is kept."""
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


class _RegistryTarget:
    """Where a trainer registers: the folder it saved into, or MLflow when
    MLFLOW_TRACKING_URI is set (the variable MLflow's own tools read)."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.mlflow_tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or None


def report_text(title: str, manifest: dict[str, Any], body: Iterable[str]) -> str:
    lines = [f"# {title}", "",
             f"Data: {manifest['data']} (sha256 `{manifest['data_sha256'][:16]}…`); trained in "
             f"{manifest['train_seconds']} s.", "", *body, "", "## Parameters", "",
             *(f"- {key}: {value}" for key, value in flatten(manifest["parameters"]).items())]
    return "\n".join(lines) + "\n"


def fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "—" if value is None else str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]],
                   digits: int = 4) -> list[str]:
    """A Markdown table; floats are shown with `digits` decimals, None as a dash."""
    return [f"| {' | '.join(header)} |", f"|{' --- |' * len(header)}",
            *(f"| {' | '.join(fmt(cell, digits) for cell in row)} |" for row in rows)]


def image(file: str, alt: str) -> str:
    return f"![{alt}]({file})"


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display), imported only when a report draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 100) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)


def add_training_args(parser: argparse.ArgumentParser, *, data: Any = "generated",
                      data_help: str = "'generated' (default)",
                      data_choices: Sequence[str] | None = None, seed: int = 0,
                      quick_help: str = "small and fast (tests, smoke runs)",
                      ) -> argparse.ArgumentParser:
    """The flags every trainer takes (the launcher runs `python -m services.<name>.train
    --model-dir DIR`; images run `train --quick`); a service adds its own after these."""
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models",
                        help="versions are written under DIR/<name>/ (default: models/)")
    parser.add_argument("--data", default=data, choices=data_choices, help=data_help)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--seed", type=int, default=seed, help=f"training seed (default {seed})")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress lines or bars")
    return parser
