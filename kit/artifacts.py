"""ArtifactStore: `models/<name>/<version>/`, a manifest whose file hashes are checked on load."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
# What ArtifactStore.save writes into every manifest, and so no caller may bring.
SAVED_FIELDS = ("name", "version", "created_at", "files")


class ArtifactError(RuntimeError):
    """An artifact that is missing, incomplete or tampered with: the service must not serve it."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_versions(*names: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested manifest dicts as one level of dotted keys (`forecast.interval_scale`)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def new_version() -> str:
    """Versions sort by time: `YYYYMMDD-HHMMSS` (UTC)."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class Artifact:
    """One loaded, verified model version."""

    name: str
    version: str
    path: Path
    manifest: dict[str, Any]

    def file(self, name: str) -> Path:
        return self.path / name


class ArtifactStore:
    """Reads and writes the versions of one model under `root/<name>/`."""

    def __init__(self, root: Path | str, name: str) -> None:
        self.root = Path(root)
        self.name = name
        self.model_root = self.root / name

    def versions(self) -> list[str]:
        if not self.model_root.is_dir():
            return []
        return sorted(
            p.name for p in self.model_root.iterdir() if p.is_dir() and (p / MANIFEST).is_file()
        )

    def load(self, version: str | None = None) -> Artifact:
        """The pinned version, or the newest; every listed file must match its sha256."""
        available = self.versions()
        if not available:
            raise ArtifactError(
                f"no trained '{self.name}' model under {self.model_root}; "
                f"run `python -m services.{self.name}.train` (or `make models`)"
            )
        if version is None:
            version = available[-1]
        elif version not in available:
            raise ArtifactError(
                f"'{self.name}' version {version!r} not found; available: {', '.join(available)}"
            )
        path = self.model_root / version
        manifest = json.loads((path / MANIFEST).read_text())
        for fname, expected in manifest.get("files", {}).items():
            fpath = path / fname
            if not fpath.is_file():
                raise ArtifactError(f"artifact file missing: {fname} in {path}")
            actual = sha256_file(fpath)
            if actual != expected:
                raise ArtifactError(
                    f"sha256 mismatch for {fname} in {self.name}/{version}: "
                    f"manifest {expected[:12]}…, file {actual[:12]}…"
                )
        return Artifact(self.name, version, path, manifest)

    def save(
        self,
        staging: Path,
        manifest: dict[str, Any],
        version: str | None = None,
    ) -> Artifact:
        """Move a staging folder into place as a new version, hashing every file in it."""
        brought = [key for key in SAVED_FIELDS if key in manifest]
        if brought:
            raise ArtifactError(f"the manifest may not set {', '.join(brought)}: save writes them")
        if version is None:
            version = new_version()
            while (self.model_root / version).exists():  # two runs within one second
                time.sleep(0.05)
                version = new_version()
        target = self.model_root / version
        if target.exists():
            raise ArtifactError(f"version {version} already exists at {target}")
        files = {
            p.relative_to(staging).as_posix(): sha256_file(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file() and p.name != MANIFEST
        }
        full = {
            "name": self.name,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **manifest,
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=False, default=str))
        self.model_root.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
        return Artifact(self.name, version, target, full)
