"""A small model trained once per session from the seeded generator, into a tmp dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from services.anomaly.data import generate_transactions
from services.anomaly.train import TrainConfig, frame_sha256, train

QUICK = TrainConfig(n_estimators=50, train_days=4, test_days=4, max_model_features=3)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("anomaly-models")
    df = generate_transactions(n_users=150, n_merchants=400, days=30, seed=3)
    train(df, root, QUICK, "generated(test)", frame_sha256(df), progress=False)
    return root


@pytest.fixture(scope="session")
def artifact_path(model_dir) -> Path:
    return next((model_dir / "anomaly").iterdir())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url():
    """A real redis-server on a free port; skipped without the binary unless CI=true."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server not installed (apt-get install -y redis-server)")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
