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
    """A small credit model for this session (the smoke test serves it): few rows, one small
    candidate, so the fixture costs seconds even on busy cores. Speed is never asserted."""
    from services.credit import train as credit_train
    from services.credit.data import generate_applications

    small = {"max_depth": [2], "learning_rate": [0.1], "n_estimators": [40],
             "min_child_weight": [2], "subsample": [0.8], "colsample_bytree": [0.6],
             "gamma": [0.0]}
    root = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(credit_train, "SEARCH_SPACE", small)
        credit_train.train(generate_applications(n=1000), root,
                           # the peers serve an XGBoost booster: never the logistic baseline,
                           # which may win the CV on so few rows
                           credit_train.TrainConfig(folds=2, search_budget=1, quick=True,
                                                    algorithm="xgboost"),
                           progress=False)
    return root
