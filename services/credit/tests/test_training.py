"""Training: CLI and manifest, ONNX parity, contribution parity, loaders."""

import json
from dataclasses import replace

import numpy as np
import pytest
import xgboost as xgb

from kit.artifacts import ArtifactStore
from kit.training import ParityError
from services.credit import evaluation, train
from services.credit.data import GERMAN_DIR, generate_applications, load_german
from services.credit.explain import tables_from_booster
from services.credit.model import CreditModel
from services.credit.settings import CreditSettings
from services.credit.train import base_margin, main, onnx_probabilities, to_onnx


def test_cli_trains_a_small_model_and_writes_a_manifest(tmp_path, capsys):
    assert main(["--quick", "--rows", "1500", "--search-budget", "1",
                 "--model-dir", str(tmp_path)]) == 0
    artifact = ArtifactStore(tmp_path, "credit").load()
    manifest = artifact.manifest
    for key in ("version", "created_at", "data_sha256", "parameters", "metrics",
                "input_schema", "libraries", "files", "calibration", "bands", "fairness"):
        assert key in manifest, key
    served = ({"model.onnx", "trees.npz"} if manifest["algorithm"] == "xgboost"
              else {"linear.npz"})  # on 1,200 training rows the logistic baseline may win
    assert set(manifest["files"]) >= {*served, "report.md", "roc.png", "reliability.png"}
    assert max(v for k, v in manifest["metrics"].items() if k.endswith("max_abs_diff")) <= 1e-5
    assert 0 < manifest["bands"]["medium_from"] < manifest["bands"]["high_from"] < 1
    assert "| auc |" in artifact.file("report.md").read_text()


def test_cli_trains_from_a_csv(tmp_path):
    data = generate_applications(n=800, seed=3)
    frame = data.frame.assign(bad=data.target)
    csv = tmp_path / "loans.csv"
    frame.to_csv(csv, index=False)
    assert main(["--data", str(csv), "--target", "bad", "--quick",
                 "--model-dir", str(tmp_path / "m")]) == 0
    manifest = ArtifactStore(tmp_path / "m", "credit").load().manifest
    names = [f["name"] for f in manifest["input_schema"]["fields"]]
    assert "employment_type" in names and "bad" not in names


def test_cli_rejects_a_missing_target(tmp_path, capsys):
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,0\n2,1\n")
    assert main(["--data", str(csv), "--target", "nope", "--model-dir", str(tmp_path)]) == 2
    assert "target column 'nope'" in capsys.readouterr().err


def test_a_failed_onnx_parity_check_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "ONNX_TOLERANCE", 0.0)
    with pytest.raises(ParityError, match=r"ONNX parity failed: max \|Δ\| = .* > tolerance 0"):
        train.train(generate_applications(n=600), tmp_path,
                    train.TrainConfig(folds=2, search_budget=1, quick=True, max_trees=20,
                                      algorithm="xgboost"),
                    progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_version_saved_with_feature_schema_still_serves(model_dir, application):
    artifact = ArtifactStore(model_dir, "credit").load()
    manifest = dict(artifact.manifest)
    manifest["feature_schema"] = manifest.pop("input_schema")
    old, new = CreditModel(CreditSettings()), CreditModel(CreditSettings())
    old.load(replace(artifact, manifest=manifest))
    new.load(artifact)
    assert old.input_schema() == new.input_schema()
    assert old.predict([application]) == new.predict([application])


@pytest.fixture(scope="module")
def small_model():
    data = generate_applications(n=2000, seed=11)
    x = data.spec.encode(data.frame.to_dict("records"))
    clf = xgb.XGBClassifier(n_estimators=60, max_depth=3, tree_method="hist", n_jobs=1)
    return clf.fit(x, data.target), x


def test_onnx_matches_xgboost(small_model, tmp_path):
    clf, x = small_model
    to_onnx(clf, x.shape[1], tmp_path / "m.onnx")
    diff = np.abs(onnx_probabilities(tmp_path / "m.onnx", x) - clf.predict_proba(x)[:, 1])
    assert diff.max() <= 1e-5


def test_tree_contributions_match_xgboost_saabas(small_model):
    clf, x = small_model
    booster = clf.get_booster()
    tables = tables_from_booster(booster, base_margin(booster))
    reference = booster.predict(xgb.DMatrix(x[:200]), pred_contribs=True, approx_contribs=True)
    np.testing.assert_allclose(tables.contributions(x[:200]), reference[:, :-1], atol=1e-4)
    margin = booster.predict(xgb.DMatrix(x[:200]), output_margin=True)
    np.testing.assert_allclose(tables.contributions(x[:200]).sum(1) + tables.bias, margin,
                               atol=1e-4)


def test_cost_threshold_and_fairness_metrics():
    y = np.array([0, 0, 0, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.9, 0.7])
    assert evaluation.cost_optimal_threshold(y, p, cost_fn=5, cost_fp=1) == 0.6
    result = evaluation.fairness(np.zeros(20, dtype=int), np.r_[np.ones(10), np.zeros(10)] > 0,
                                 np.array(["a"] * 10 + ["b"] * 10))
    assert result["approval_rate_ratio"] == 0.0
    assert result["equal_opportunity_difference"] == 1.0


@pytest.mark.skipif(not (GERMAN_DIR / "german.data").is_file(),
                    reason="../shared/data/german_credit is absent")
def test_german_loader_maps_codes_to_readable_names():
    data = load_german()
    assert len(data.frame) == 1000 and data.target.mean() == pytest.approx(0.3)
    assert data.frame.loc[0, "checking_status"] == "lt_0_dm"
    assert data.frame.loc[0, "age"] == 67
    assert set(data.sensitive["sex"]) == {"male", "female"}
    assert "amount_per_month" in data.spec.columns
    json.dumps(data.spec.to_dict())
