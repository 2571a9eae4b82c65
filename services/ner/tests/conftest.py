"""One small model per test session, trained into a tmp dir with the train module's functions."""

from __future__ import annotations

import pytest

from kit.artifacts import Artifact
from services.ner.generator import generate
from services.ner.schema import NerSettings
from services.ner.train import save_artifact, train_pipeline


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Artifact:
    model_dir = tmp_path_factory.mktemp("models")
    sentences = generate(1600, seed=5)
    nlp = train_pipeline(sentences[:1500], epochs=10, seed=5)
    metrics = {"generated_holdout": {"exact": {}, "overlap": {}}}
    return save_artifact(nlp, model_dir, metrics, {"epochs": 10, "n_train": 1500}, "test-data")


@pytest.fixture
def settings(trained: Artifact) -> NerSettings:
    return NerSettings(model_dir=trained.path.parents[1], max_text_length=500, max_instances=16)
