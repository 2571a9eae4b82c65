"""The artifact training writes: manifest, threshold, metrics, report; and the public data set."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kit.artifacts import ArtifactStore
from kit.stores import MemoryRecordStore
from services.anomaly.data import HANDBOOK_CSV, generate_transactions, load_handbook
from services.anomaly.features import FEATURE_NAMES
from services.anomaly.model import AnomalyModel
from services.anomaly.profiles import ProfileStore
from services.anomaly.replay import frame_transactions
from services.anomaly.settings import AnomalySettings
from services.anomaly.train import amount_prior, apply_feedback


def test_manifest_records_what_serving_and_review_need(artifact_path):
    manifest = json.loads((artifact_path / "manifest.json").read_text())
    assert len(FEATURE_NAMES) >= 20
    assert manifest["features"]["all"] == list(FEATURE_NAMES)
    assert set(manifest["features"]["model"]) <= set(FEATURE_NAMES)
    assert manifest["input_schema"]["title"] == "AnomalyInstance"
    assert 0.0 < manifest["threshold"]["score"] < 1.0
    holdout = manifest["metrics"]["holdout"]
    for key in ("auc_roc", "average_precision", "card_precision_at_100_mean"):
        assert 0.0 <= holdout[key] <= 1.0
    assert manifest["metrics"]["onnx_max_abs_diff"] < 1e-4
    assert set(manifest["files"]) >= {"model.onnx", "reference.json", "report.md",
                                      "scores.png", "precision_recall.png"}
    assert len(manifest["data_sha256"]) == 64
    assert "AUC-ROC" in (artifact_path / "report.md").read_text()


def test_a_version_saved_with_feature_schema_still_describes_its_features(model_dir):
    artifact = ArtifactStore(model_dir, "anomaly").load()
    manifest = dict(artifact.manifest)
    manifest["feature_schema"] = manifest.pop("features")
    model = AnomalyModel(AnomalySettings())
    model.load(replace(artifact, manifest=manifest))
    assert model.metadata()["features"] == artifact.manifest["features"]


def test_threshold_meets_the_target_false_positive_rate_on_its_window(artifact_path):
    manifest = json.loads((artifact_path / "manifest.json").read_text())
    holdout = manifest["metrics"]["holdout"]
    assert holdout["false_positive_rate"] < 5 * manifest["threshold"]["target_false_positive_rate"]


def test_handbook_loader():
    if not HANDBOOK_CSV.is_file():
        pytest.skip(f"handbook data not found at {HANDBOOK_CSV}")
    df = load_handbook()
    assert len(df) == 430_983
    assert int(df["fraud"].sum()) == 3_814
    assert df["timestamp"].is_monotonic_increasing
    assert df["merchant"].str.startswith("terminal:").all()


def test_stored_feedback_relabels_training_data():
    df = generate_transactions(n_users=5, n_merchants=60, days=10, seed=1)
    profiles = ProfileStore(MemoryRecordStore())
    prior = amount_prior(df)
    for user, tx in zip(df["user_id"], frame_transactions(df.head(3)), strict=False):
        profiles.observe(user, tx, prior)
    first, second = df["tx_id"].iloc[0], df["tx_id"].iloc[1]
    profiles.record_feedback(first, "fraud", now=1.0)
    profiles.record_feedback(second, "fraud", now=2.0)
    profiles.record_feedback(second, "genuine", now=3.0)  # the later word wins
    entries = profiles.feedback("1970-01-01")
    assert [e["transaction_id"] for e in entries] == [first, second, second]
    relabelled, touched = apply_feedback(df.assign(fraud=0), entries)
    assert touched == 2
    assert relabelled["fraud"].iloc[:2].tolist() == [1, 0]
    assert relabelled["fraud"].iloc[2:].sum() == 0
