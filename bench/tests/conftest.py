import os
import shutil
from pathlib import Path

import pytest


def require_wrk() -> None:
    """wrk is a Debian package, not a Python one: skip without it, except in CI."""
    if shutil.which("wrk"):
        return
    message = "wrk is not installed (apt-get install -y wrk)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def credit_model_dir(tmp_path_factory) -> Path:
    """A small credit model trained for this session (the smoke test serves it)."""
    from services.credit.data import generate_applications
    from services.credit.train import TrainConfig, train

    root = tmp_path_factory.mktemp("models")
    train(generate_applications(n=1500), root, TrainConfig(folds=2, search_budget=1, quick=True),
          progress=False)
    return root
