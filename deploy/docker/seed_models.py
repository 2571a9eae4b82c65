"""Copy the model versions baked into an image onto the shared model volume, if missing, and the
image's registry files (aliases.json, history.jsonl) when the volume has no registry yet.

Runs as a Kubernetes init container before each model pod and each retraining Job (and before
the server in compose), so a fresh volume serves the image's production version at once, and
retraining only ever adds versions and moves `candidate`: the first retrain on a fresh volume
finds a production already there, so it never becomes production without the gate.

Each version is copied into a staging folder on the same volume and renamed into place, so a
pod that lists versions never sees a half-copied one, and replicas starting together never
clobber each other. The registry files are written under the registry's own lock
(`<name>/.registry.lock`, the flock kit.registry takes), each to a temporary file renamed into
place, history first: a volume whose aliases.json exists is never touched again, and a
registry change made meanwhile by a trainer or a `promote` is never overwritten.
Usage: python seed_models.py SOURCE_ROOT TARGET_ROOT NAME
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"
STAGING = ".staging"
# The same names as kit.registry (tests/test_deploy_images.py checks that they agree).
ALIASES_FILE = "aliases.json"
HISTORY_FILE = "history.jsonl"
LOCK_FILE = ".registry.lock"


def seed(source_root: Path, target_root: Path, name: str) -> list[str]:
    """The versions of `name` copied from source to target (those already there are kept)."""
    source = source_root / name
    target = target_root / name
    versions = sorted(p.name for p in source.iterdir() if (p / MANIFEST).is_file()) \
        if source.is_dir() else []
    staging_root = target_root / STAGING
    staging_root.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for version in versions:
        if (target / version).exists():
            continue
        staging = Path(tempfile.mkdtemp(prefix=f"{name}-{version}-", dir=staging_root))
        shutil.copytree(source / version, staging, dirs_exist_ok=True)
        try:
            staging.rename(target / version)
        except OSError:  # another replica renamed the same version first
            shutil.rmtree(staging, ignore_errors=True)
            continue
        copied.append(version)
    return copied


def seed_registry(source_root: Path, target_root: Path, name: str) -> str:
    """Copy the image's registry files for `name` when the target has no aliases.json yet.
    Returns what happened, in words (for the init container's log)."""
    source = source_root / name
    target = target_root / name
    if not (source / ALIASES_FILE).is_file():
        return "the image has no registry files (the newest version serves until promoted)"
    if (target / ALIASES_FILE).exists():
        return "kept the volume's registry"
    aliases = json.loads((source / ALIASES_FILE).read_text()).get("aliases", {})
    missing = sorted({v for v in aliases.values() if not (target / v / MANIFEST).is_file()})
    if missing:
        return (f"not copied: the image's aliases name versions the volume lacks "
                f"({', '.join(missing)})")
    target.mkdir(parents=True, exist_ok=True)
    with open(target / LOCK_FILE, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (target / ALIASES_FILE).exists():  # a writer got there first
                return "kept the volume's registry"
            if (source / HISTORY_FILE).is_file():
                _copy_atomically(source / HISTORY_FILE, target / HISTORY_FILE)
            _copy_atomically(source / ALIASES_FILE, target / ALIASES_FILE)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    described = ", ".join(f"{a} → {v}" for a, v in sorted(aliases.items())) or "no aliases"
    return f"copied the image's registry ({described})"


def _copy_atomically(source: Path, target: Path) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".seed-{target.name}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def main(argv: list[str]) -> int:
    source_root, target_root, name = argv
    copied = seed(Path(source_root), Path(target_root), name)
    registry = seed_registry(Path(source_root), Path(target_root), name)
    print(f"seed {name}: copied {copied or 'nothing'} into {target_root}; {registry}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
