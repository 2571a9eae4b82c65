"""One small model per test session, trained into a tmp dir by the service's own `train`."""

from __future__ import annotations

import pytest

from kit.artifacts import Artifact
from services.ner.settings import NerSettings
from services.ner.train import TrainConfig, train


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Artifact:
    model_dir = tmp_path_factory.mktemp("models")
    return train(TrainConfig(n_train=1500, epochs=10, seed=5), model_dir, fire_path=None,
                 progress=False)


@pytest.fixture
def settings(trained: Artifact) -> NerSettings:
    return NerSettings(model_dir=trained.path.parents[1], max_text_length=500, max_instances=16)
