"""A small model trained once per session from the seeded generator, into a tmp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit import procs
from kit.artifacts import ArtifactStore
from services.anomaly.data import generate_transactions
from services.anomaly.train import TrainConfig, frame_sha256, train
from tests.procs import require_binary

QUICK = TrainConfig(n_estimators=50, train_days=4, test_days=4, max_model_features=3)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("anomaly-models")
    df = generate_transactions(n_users=150, n_merchants=400, days=30, seed=3)
    train(df, root, QUICK, "generated(test)", frame_sha256(df), progress=False)
    return root


@pytest.fixture(scope="session")
def artifact_path(model_dir) -> Path:
    store = ArtifactStore(model_dir, "anomaly")
    return store.model_root / store.versions()[-1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port; skipped without the binary unless CI=true."""
    require_binary("redis-server")
    proc = procs.start_redis(tmp_path_factory.mktemp("redis"))
    yield proc.url
    proc.stop()
