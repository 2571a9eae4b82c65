"""Copy the model versions baked into an image onto the shared model volume, if missing.

Runs as a Kubernetes init container before each model pod, so a fresh volume serves the
image's model at once and retraining only ever adds versions. Each version is copied into a
staging folder on the same volume and renamed into place, so a pod that lists versions never
sees a half-copied one, and replicas starting together never clobber each other.
Usage: python seed_models.py SOURCE_ROOT TARGET_ROOT NAME
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"
STAGING = ".staging"


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


def main(argv: list[str]) -> int:
    source_root, target_root, name = argv
    copied = seed(Path(source_root), Path(target_root), name)
    print(f"seed {name}: copied {copied or 'nothing'} into {target_root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
