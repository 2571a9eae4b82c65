"""One encoder export and one quick model per test session, in tmp dirs (no pre-trained models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intent.data import shipped_dataset
from services.intent.settings import IntentSettings
from services.intent.train import CANDIDATES, train


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory) -> Path:
    """MiniLM exported to ONNX once; every other fixture and test reuses it."""
    pytest.importorskip("torch", reason="exporting MiniLM to ONNX needs torch (the train extra)")
    from services.intent.export import export_encoder

    target = tmp_path_factory.mktemp("encoder")
    export_encoder(target)
    return target


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, encoder_dir: Path) -> Path:
    """The shipped-data model, trained fast: one head (SVM + neighbours), 3 folds, no int8."""
    root = tmp_path_factory.mktemp("models")
    train(shipped_dataset(), root, encoder_dir=encoder_dir, quantize=False, check_parity=False,
          folds=3, progress=False, candidates=CANDIDATES[-1:])
    return root


@pytest.fixture(scope="session")
def artifact(model_dir: Path):
    from kit import ArtifactStore

    return ArtifactStore(model_dir, "intent").load()


@pytest.fixture(scope="session")
def intent_model(model_dir: Path, artifact):
    from services.intent.model import IntentModel

    model = IntentModel(IntentSettings(model_dir=model_dir))
    model.load(artifact)
    return model


@pytest.fixture
def settings(model_dir: Path) -> IntentSettings:
    return IntentSettings(model_dir=model_dir, max_instances=8, max_body_bytes=20_000,
                          max_text_length=200)
