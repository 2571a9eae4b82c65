"""Choice of algorithm and honest PDs: XGBoost against the logistic baseline, the served
model's calibration on the holdout, and a logistic model served with the same answer shape."""

import numpy as np
import pytest

from kit.artifacts import ArtifactStore
from kit.calibration import expected_calibration_error
from kit.gate import read_holdout
from services.credit.data import generate_applications
from services.credit.linear import LINEAR_NPZ, LinearScorer
from services.credit.model import CreditModel, logit
from services.credit.settings import CreditSettings
from services.credit.train import TrainConfig, fit_linear, train


def served_holdout(artifact) -> tuple[np.ndarray, np.ndarray]:
    model = CreditModel(CreditSettings())
    model.load(artifact)
    rows = read_holdout(artifact)
    p = np.array([a["probability_of_default"]
                  for a in model.predict([r["instance"] for r in rows])])
    return p, np.array([r["defaulted"] for r in rows], dtype=float)


def test_both_algorithms_are_compared_on_the_same_split_and_the_cv_winner_is_served(model_dir):
    artifact = ArtifactStore(model_dir, "credit").load()
    manifest = artifact.manifest
    compared = manifest["candidates"]
    assert set(compared) == {"xgboost", "logistic"}
    for result in compared.values():
        assert {"auc", "ap", "brier", "ece"} <= set(result["holdout"])
    cv_auc = {a: r["cv"]["auc"]["mean"] for a, r in compared.items()}
    winner = max(cv_auc, key=cv_auc.get)
    assert manifest["algorithm"] == manifest["choice"]["winner"] == winner
    assert manifest["choice"]["cv_auc_margin"] == pytest.approx(
        cv_auc[winner] - min(cv_auc.values()))
    assert manifest["metrics"]["holdout"] == pytest.approx(compared[winner]["holdout"])
    report = artifact.file("report.md").read_text()
    assert "## Algorithms compared" in report and f"`{winner}` won on" in report
    assert "15 equal-width bins" in report
    assert artifact.file("reliability.png").stat().st_size > 0


def test_served_probabilities_are_calibrated_on_the_holdout(model_dir):
    artifact = ArtifactStore(model_dir, "credit").load()
    p, y = served_holdout(artifact)
    ece = expected_calibration_error(p, y)
    assert ece <= 0.05
    assert ece == pytest.approx(artifact.manifest["calibration"]["holdout_after"]["ece"],
                                abs=1e-4)  # the answers are rounded to 6 decimals


@pytest.fixture(scope="module")
def logistic_artifact(tmp_path_factory):
    root = tmp_path_factory.mktemp("logistic")
    cfg = TrainConfig(folds=3, search_budget=1, quick=True, max_trees=40, algorithm="logistic")
    return train(generate_applications(n=2000, seed=5), root, cfg, progress=False)


def test_a_logistic_model_is_served_with_reasons_from_its_coefficients(logistic_artifact,
                                                                       application):
    manifest = logistic_artifact.manifest
    assert manifest["algorithm"] == "logistic" and manifest["choice"]["asked"] == "logistic"
    assert LINEAR_NPZ in manifest["files"] and "model.onnx" not in manifest["files"]
    model = CreditModel(CreditSettings())
    model.load(logistic_artifact)
    assert model.metadata()["algorithm"] == "logistic"
    risky = {**application, "delinquencies": 6, "utilisation": 1.2, "income": 20000,
             "existing_emis": 9000, "employment_type": "gig"}
    safe, bad = model.predict([application, risky])
    assert bad["probability_of_default"] > safe["probability_of_default"]
    assert set(safe) == {"probability_of_default", "risk_score", "band", "decision", "reasons"}
    assert len(safe["reasons"]) == model.settings.top_reasons
    assert {"feature", "value", "contribution", "direction"} == set(safe["reasons"][0])
    x = model.spec.encode([application, risky])
    margin = model.scorer.contributions(x).sum(axis=1) + model.scorer.bias
    np.testing.assert_allclose(margin, logit(model.scorer.raw_probability(x)), atol=1e-6)
    scorer = LinearScorer.load(logistic_artifact.file(LINEAR_NPZ))
    contributions = dict(zip(model.spec.columns, scorer.contributions(x)[1], strict=True))
    top = bad["reasons"][0]
    assert top["contribution"] == pytest.approx(round(float(
        sum(v for c, v in contributions.items() if c.split("=")[0] == top["feature"])), 4))
    p, y = served_holdout(logistic_artifact)
    assert expected_calibration_error(p, y) <= 0.05
    assert "`logistic` is served because `--algorithm logistic`" in (
        logistic_artifact.file("report.md").read_text())


def test_linear_scorer_matches_scikit_learns_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = generate_applications(n=1500, seed=9)
    x = data.spec.encode(data.frame.to_dict("records"))
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    reference = pipeline.fit(x, data.target).predict_proba(x)[:, 1]
    np.testing.assert_allclose(fit_linear(x, data.target, 0.1).raw_probability(x),
                               reference, atol=1e-6)  # float32 rows, float64 maths
