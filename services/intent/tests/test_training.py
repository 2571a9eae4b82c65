"""What training leaves behind: a verified artifact with a manifest and a readable report."""

import json

import pytest

from kit.artifacts import ArtifactError, ArtifactStore
from services.intent.export import MINILM_SAFETENSORS_SHA256
from services.intent.head import HEAD_JSON, LinearHead
from services.intent.train import choose_threshold, scores


def test_manifest_records_provenance_metrics_and_schema(artifact):
    manifest = artifact.manifest
    assert manifest["name"] == "intent" and manifest["data"] == "shipped"
    assert manifest["encoder"]["safetensors_sha256"] == MINILM_SAFETENSORS_SHA256
    assert manifest["encoder"]["file"] in manifest["files"]
    for key in ("accuracy", "in_scope_accuracy", "out_of_scope_recall"):
        assert 0.0 <= manifest["metrics"][key] <= 1.0
    assert manifest["metrics"]["in_scope_accuracy"] > 0.8
    assert manifest["metrics"]["out_of_scope_recall"] > 0.8
    assert manifest["input_schema"]["embedding_dim"] == 768  # mean + max pooling
    assert {"onnxruntime", "tokenizers", "numpy"} <= set(manifest["libraries"])
    report = (artifact.path / "report.md").read_text()
    assert "in_scope_accuracy" in report and (artifact.path / "confusion.png").stat().st_size > 0


def test_head_round_trips_and_needs_no_sklearn(artifact):
    head = LinearHead.load(artifact.path)
    config = json.loads((artifact.path / HEAD_JSON).read_text())
    assert head.labels == config["labels"] == artifact.manifest["labels"]
    assert head.embedding_weights.shape == (768, len(head.labels))


def test_tampered_artifact_is_refused(artifact, tmp_path):
    import shutil

    copy = tmp_path / "intent" / artifact.version
    shutil.copytree(artifact.path, copy)
    with (copy / "head.npz").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactError, match="sha256"):
        ArtifactStore(tmp_path, "intent").load()


def test_threshold_choice_trades_accuracy_for_recall():
    import numpy as np

    labels = ["a", "b", "out_of_scope"]
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.45, 0.35, 0.2], [0.4, 0.3, 0.3]])
    truth = ["a", "b", "out_of_scope", "out_of_scope"]
    threshold, curve = choose_threshold(probs, truth, labels, "out_of_scope")
    assert 0.45 < threshold <= 0.8
    partial = scores(["a", "b", "out_of_scope", "a"], truth, "out_of_scope")
    assert partial["out_of_scope_recall"] == 0.5 and partial["in_scope_accuracy"] == 1.0
    assert curve[0]["threshold"] == 0.0 and curve[0]["out_of_scope_recall"] == 0.0


def test_temperature_sharpens_underconfident_probabilities():
    import numpy as np

    from services.intent.train import fit_temperature, temper

    labels = ["a", "b", "c"]
    probs = np.array([[0.5, 0.3, 0.2], [0.3, 0.5, 0.2], [0.2, 0.3, 0.5]] * 10)
    truth = ["a", "b", "c"] * 10
    t = fit_temperature(probs, truth, labels)
    assert t > 4
    sharpened = temper(probs, t)
    np.testing.assert_allclose(sharpened.sum(axis=1), 1.0)
    assert (sharpened.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert sharpened[0, 0] > 0.9


def test_nearest_neighbours_give_best_cosine_per_label_and_round_trip(tmp_path):
    import numpy as np

    from services.intent.head import NearestNeighbours

    memory = np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    neighbours = NearestNeighbours(memory, np.array([2, 0, 2]), n_labels=3)
    query = np.array([[0.8, 0.6]], dtype=np.float32)
    np.testing.assert_allclose(neighbours.best_cosine(query), [[0.6, 0.0, 0.96]], atol=1e-6)

    head = LinearHead(["a", "b", "c"], np.zeros((2, 3)), np.zeros(3), neighbours=neighbours,
                      neighbour_weight=5.0)
    assert head.probabilities(query, ["x"]).argmax() == 2
    head.save(tmp_path)
    loaded = LinearHead.load(tmp_path)
    assert loaded.neighbour_weight == 5.0
    np.testing.assert_allclose(loaded.probabilities(query, ["x"]), head.probabilities(query, ["x"]))


def test_artifact_head_matches_manifest_neighbour_weight(artifact):
    head = LinearHead.load(artifact.path)
    assert head.neighbour_weight == artifact.manifest["parameters"]["neighbour_weight"]
