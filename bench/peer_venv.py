"""The peers' isolated venvs: each peer (MLServer, BentoML, Ray Serve) is installed into
`bench/.venv-<peer>` on first use with exact pins, never into the project's venv. A venv that
cannot be built makes that peer skipped with the reason, never a failed bench."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


class PeerUnavailable(RuntimeError):
    """The peer's venv could not be built, or the peer could not be started as it should."""


def venv_path(peer: str) -> Path:
    return BENCH_DIR / f".venv-{peer}"


STAMP = ".finfleet-installed-from"  # what the venv was built from, written once it is whole


def is_current(venv: Path, binary: str, stamp: str) -> bool:
    """The venv has `binary` and was built from `stamp` (no stamp asked: any whole venv)."""
    if not (venv / "bin" / binary).is_file():
        return False
    if not stamp:
        return True
    marker = venv / STAMP
    return marker.is_file() and marker.read_text() == stamp


def ensure(venv: Path, packages: tuple[str, ...], binary: str, stamp: str = "") -> Path:
    """`venv/bin/<binary>`, installing `packages` (pip's arguments) into a fresh `venv` first
    when it is missing or was built from another `stamp` (a lock file's digest): minutes, once.
    A half-made venv from a failed install is removed so the next run retries."""
    path = venv / "bin" / binary
    if is_current(venv, binary, stamp):
        return path
    again = " again: what it was built from changed" if venv.is_dir() else " (first use only)"
    shutil.rmtree(venv, ignore_errors=True)
    print(f"bench: installing {' '.join(packages)} into {venv}{again}", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                       capture_output=True, text=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages], check=True,
                       capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(venv, ignore_errors=True)
        tail = (getattr(exc, "stderr", "") or "").strip().splitlines()[-3:]
        raise PeerUnavailable(f"could not install {' '.join(packages)} into {venv}: {exc}"
                              + (f" ({' / '.join(tail)})" if tail else "")) from exc
    if not path.is_file():
        raise PeerUnavailable(f"{packages[0]} installed into {venv} but has no bin/{binary}")
    if stamp:
        (venv / STAMP).write_text(stamp)
    return path


def installed_version(venv: Path, dist: str) -> str:
    done = subprocess.run([str(venv / "bin" / "python"), "-c",
                           f"import importlib.metadata as m; print(m.version({dist!r}))"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def size_mb(venv: Path) -> float | None:
    """The serving environment's size on disk (files counted once, symlinks not followed)."""
    if not venv.is_dir():
        return None
    total = 0
    for root, _, files in os.walk(venv):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return round(total / 1e6, 1)


def booster(artifact_dir: Path) -> Path:
    """The credit artifact's raw XGBoost booster, which every peer serves."""
    manifest = artifact_dir / "manifest.json"
    algorithm = json.loads(manifest.read_text()).get("algorithm") if manifest.is_file() else None
    if algorithm not in (None, "xgboost"):
        raise FileNotFoundError(
            f"{artifact_dir} serves the {algorithm} model (docs/calibration.md): the peers "
            "serve XGBoost boosters, so the comparison needs an XGBoost version "
            "(`python -m services.credit.train --algorithm xgboost --model-dir <dir>`)")
    path = (artifact_dir / "xgboost.json").resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: retrain with `python -m services.credit.train "
            f"--model-dir <dir>` (artifacts from before the booster was saved lack it)")
    return path
