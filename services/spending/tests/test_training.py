import json

import pytest

from kit import ArtifactStore
from services.spending.data import M3_PATH, generate_users
from services.spending.forecaster import ForecastConfig
from services.spending.train import evaluate_m3, main


def test_artifact_holds_config_metrics_and_report(model_dir):
    artifact = ArtifactStore(model_dir, "spending").load()
    manifest = artifact.manifest
    assert set(manifest["files"]) >= {"forecast_config.json", "report.md",
                                      "example_forecast.png"}
    config = ForecastConfig.from_dict(manifest["parameters"]["forecast"])
    assert config == ForecastConfig.from_dict(
        json.loads(artifact.file("forecast_config.json").read_text()))
    assert 0.0 <= config.weight_prophet_daily <= 1.0
    assert 0.5 <= config.interval_scale <= 3.0
    assert len(manifest["data_sha256"]) == 64
    assert {"prophet", "statsmodels"} <= set(manifest["libraries"])
    metrics = manifest["metrics"]["short"]
    assert 0.0 <= metrics["coverage"] <= 1.0 and metrics["combination_smape"] > 0
    assert "Fitted parameters" in artifact.file("report.md").read_text()


def test_synthetic_data_is_reproducible():
    first, again = generate_users(2, seed=5), generate_users(2, seed=5)
    assert first == again
    assert first != generate_users(2, seed=6)
    dates = [t["date"] for t in first[0].transactions]
    assert dates == sorted(dates) and all(t["amount"] >= 0 for t in first[0].transactions)


@pytest.mark.skipif(not M3_PATH.is_file(), reason=f"M3 data not found at {M3_PATH}")
def test_m3_evaluation_scores_every_method(model_dir, tmp_path):
    result = evaluate_m3(M3_PATH, model_dir, tmp_path, sample=3, seed=1, progress=False)
    assert result["series"] == 3
    assert set(result["smape"]) == {"combination", "theta", "prophet", "naive2",
                                    "seasonal_naive"}
    assert all(0 <= v <= 200 for v in result["smape"].values())
    assert "Naive2" in (tmp_path / "m3.md").read_text()


def test_cli_rejects_missing_m3_file(tmp_path):
    with pytest.raises(SystemExit):
        main(["--eval", "m3", "--data", str(tmp_path / "none.csv"), "--model-dir",
              str(tmp_path)])
