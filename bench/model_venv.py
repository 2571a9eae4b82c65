"""finfleet's own serving environments, as each image builds them (deploy/docker/model.Dockerfile):
a fresh venv holding only `requirements/images/<image>.txt`, hash-checked with nothing resolved,
running the repository's source from its root the way the image runs /app. The bench serves
each model, the gateway and the floor from these, so the footprint table's size, start-up and
memory are each one's own rather than the project venv's with every extra, and an image lock
that misses a module its service imports fails at start-up here, not first in a cluster."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from bench import peer_venv
from kit.settings import REPO_ROOT

IMAGE_LOCKS = REPO_ROOT / "requirements" / "images"


def lock_file(image: str) -> Path:
    return IMAGE_LOCKS / f"{image}.txt"


def venv_path(image: str) -> Path:
    return peer_venv.BENCH_DIR / f".venv-model-{image}"


def ensure(image: str) -> Path:
    """The image's interpreter, building its venv first when it is missing or its lock changed
    since (a minute or so per image from the local wheels). PeerUnavailable says why not."""
    lock = lock_file(image)
    if not lock.is_file():
        raise peer_venv.PeerUnavailable(f"{lock} does not exist (`make lock` writes it)")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    packages = ("--require-hashes", "--no-deps", "-r", str(lock))
    stamp = f"sha256:{digest} python {sys.version.split()[0]} {sys.executable}"
    return peer_venv.ensure(venv_path(image), packages, "python", stamp=stamp)
