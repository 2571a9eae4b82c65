"""Reference profiles and drift statistics (kit/profile.py, kit/drift.py) on seeded samples."""

from __future__ import annotations

import numpy as np
import pytest

from kit import drift
from kit.model import ServedModel
from kit.profile import (
    OTHER,
    build_profile,
    fit_projection,
    fit_text_state,
    hashed_bag,
    project,
    reference_profile,
    scalar_features,
    text_drift_features,
)


def rows(n: int, seed: int, income_factor: float = 1.0, night: float = 0.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        out.append({
            "income": float(rng.lognormal(10.9, 0.6)) * income_factor,
            "age": float(np.clip(rng.normal(36, 10), 21, 70)),
            "employment": str(rng.choice(["salaried", "gig", "business"], p=[0.7, 0.2, 0.1])
                              if rng.random() >= night else "unemployed"),
            "delinquencies": int(rng.poisson(0.5)),
            "output.probability": float(rng.beta(2, 9) * (2 - income_factor)),
        })
    return out


@pytest.fixture(scope="module")
def profile() -> dict:
    return build_profile(rows(4000, seed=1))


def test_profile_summarises_numbers_categories_and_counts(profile):
    features = profile["features"]
    assert profile["rows"] == 4000 and profile["format"] == 1
    income = features["income"]
    assert income["kind"] == "numeric" and len(income["quantiles"]) == 101
    assert len(income["edges"]) == 9 and sum(income["frequencies"]) == pytest.approx(1, abs=1e-4)
    assert features["employment"]["kind"] == "categorical"
    assert features["employment"]["frequencies"]["salaried"] == pytest.approx(0.7, abs=0.03)
    assert OTHER in features["employment"]["frequencies"]
    assert features["delinquencies"]["kind"] == "categorical"  # a count with a few values


def test_an_identifier_is_not_profiled():
    profile = build_profile([{"user_id": f"u{i}", "x": i % 3} for i in range(200)])
    assert "user_id" in profile["skipped"] and "user_id" not in profile["features"]


def test_windows_like_the_reference_stay_under_the_warning(profile):
    scores = [drift.compare(profile, rows(200, seed=100 + k)).score for k in range(20)]
    assert max(scores) < drift.WARNING


def test_a_shifted_income_raises_the_score(profile):
    report = drift.compare(profile, rows(200, seed=7, income_factor=0.6))
    assert report.features["income"].score >= drift.CRITICAL
    assert report.features["income"].psi > 0.25 and report.features["income"].ks > 0.2
    assert report.features["age"].score < drift.WARNING
    assert report.score > drift.WARNING and report.level in ("warning", "critical")
    assert "income" in report.drifted and report.output_score > drift.CRITICAL


def test_a_new_category_counts_as_other_and_drifts(profile):
    report = drift.compare(profile, rows(300, seed=8, night=0.6))
    employment = report.features["employment"]
    assert employment.score >= drift.CRITICAL and employment.chi2_p < 1e-6


def test_psi_takes_off_its_sampling_noise():
    reference = [0.25] * 4
    assert drift.psi(reference, [25, 25, 25, 25]) == 0.0
    assert drift.psi(reference, [70, 10, 10, 10]) > 0.5


def test_ks_distance_reads_the_reference_quantiles():
    q = np.quantile(np.arange(1000.0), np.linspace(0, 1, 101))
    assert drift.ks_distance(q, np.arange(0.0, 1000.0, 7)) < 0.02
    assert drift.ks_distance(q, np.arange(500.0, 1000.0, 3)) == pytest.approx(0.5, abs=0.02)


def test_scores_sit_on_one_scale():
    assert drift.half_scale(0.25, drift.PSI_HALF) == 0.5
    assert drift.drift_weight(0.3) == 0.0 and drift.drift_weight(0.4) == pytest.approx(0.5)
    assert drift.drift_weight(0.9) == 1.0
    assert [drift.level(s) for s in (0.1, 0.3, 0.5)] == ["ok", "warning", "critical"]


def test_weights_by_name_or_prefix():
    features = {n: drift.FeatureDrift(n, "numeric", s, 10) for n, s in
                (("a", 1.0), ("embedding.0", 0.0), ("embedding.1", 0.0))}
    assert drift.drift_share(features) == pytest.approx(1 / 3, abs=1e-4)
    assert drift.drift_share(features, {"embedding.": 0.5}) == 0.5


def test_an_empty_window_and_missing_features():
    assert drift.compare({"features": {}, "rows": 0}, []).score == 0.0
    profile = build_profile(rows(500, seed=3))
    report = drift.compare(profile, [{"age": 30.0}] * 50)
    assert set(report.features) == {"age"}


def test_text_state_projection_and_embedding_distance():
    texts = [f"pay my {w} bill of {k} rupees" for k in range(40)
             for w in ("electricity", "water", "phone", "gas")]
    state = fit_text_state(texts, hashed_bag(texts), components=3)
    assert state == fit_text_state(texts, hashed_bag(texts), components=3)  # deterministic
    assert np.asarray(state["projection"]["components"]).shape == (3, 256)
    assert project(state["projection"], hashed_bag(texts)).shape == (160, 3)
    features = text_drift_features(texts, state, hashed_bag)
    assert features[0]["text.unknown_share"] == 0.0 and "embedding.2" in features[0]
    profile = build_profile(features, state)
    sample = np.random.default_rng(0).choice(len(texts), 80, replace=False)
    same = drift.compare(profile, text_drift_features([texts[i] for i in sample], state,
                                                      hashed_bag))
    other = ["the striker scored twice before half time"] * 60
    shifted = drift.compare(profile, text_drift_features(other, state, hashed_bag))
    assert same.score < drift.WARNING
    assert shifted.features["text.unknown_share"].score >= drift.CRITICAL
    # A hashed bag's projection sees words training had; other proportions of them move it.
    skewed = drift.compare(profile, text_drift_features(["electricity bill"] * 60, state,
                                                        hashed_bag))
    assert skewed.features[drift.DISTANCE].score >= drift.CRITICAL
    assert same.features[drift.DISTANCE].score < drift.WARNING


def test_fit_projection_fixes_signs():
    x = np.random.default_rng(0).normal(size=(50, 6))
    a, b = fit_projection(x, 2), fit_projection(-x + 0.0, 2)
    assert np.allclose(a["components"], b["components"])


def test_default_hook_takes_scalar_leaves():
    class Echo(ServedModel):
        name = "echo"

    got = Echo(None).drift_features(
        [{"amount": 5, "user": {"tier": "gold"}, "tags": ["x"], "none": None}],
        [{"score": 0.5, "flag": True, "reasons": ["r"]}])
    assert got == [{"amount": 5, "user.tier": "gold", "output.score": 0.5, "output.flag": True}]
    assert scalar_features("text", 0.3) == {"value": "text", "output.value": 0.3}
    assert Echo(None).drift_state == {}


def test_old_manifests_have_no_profile():
    assert reference_profile({"name": "credit"}) is None
    assert reference_profile(None) is None
    assert reference_profile({"reference_profile": {"features": {}}}) == {"features": {}}


class Doubler(ServedModel):
    """A model whose hook needs fitted state: the training mean of its input."""

    name = "doubler"

    def predict(self, instances):
        factor = float(self.artifact.file("factor.txt").read_text())
        return [{"y": factor * i["x"]} for i in instances]

    def fit_drift(self, instances):
        return {"mean": float(np.mean([i["x"] for i in instances]))}

    def drift_features(self, instances, predictions):
        mean = self.drift_state.get("mean", 0.0)
        return [{"x_centred": i["x"] - mean, "output.y": p["y"]}
                for i, p in zip(instances, predictions, strict=True)]


def test_training_attaches_a_profile_the_served_model_reads(tmp_path):
    from kit.artifacts import ArtifactStore
    from kit.profile import attach_profile
    from kit.training import TrainingRun

    rng = np.random.default_rng(0)
    instances = [{"x": float(v)} for v in rng.normal(10, 2, 500)]
    with TrainingRun("doubler", tmp_path, progress=False, register=False) as run:
        (run.staging / "factor.txt").write_text("2")
        run.record(data="toy", data_sha256="ab" * 32, parameters={}, metrics={},
                   input_schema={})
        profile = attach_profile(run, Doubler(None), instances, batch=64)
        saved = run.save()
    assert profile["state"]["mean"] == pytest.approx(10, abs=0.3)
    assert set(profile["features"]) == {"x_centred", "output.y"}
    loaded = ArtifactStore(tmp_path, "doubler").load()
    assert reference_profile(loaded.manifest) == saved.manifest["reference_profile"]
    served = Doubler(None)
    served.load(loaded)
    assert served.drift_state == profile["state"]
    window = [{"x": float(v)} for v in rng.normal(10, 2, 200)]
    assert drift.compare(profile, served.drift_features(window, served.predict(window))
                         ).score < drift.WARNING
    moved = [{"x": v["x"] + 3} for v in window]
    report = drift.compare(profile, served.drift_features(moved, served.predict(moved)))
    assert report.input_score == 1.0 and report.output_score == 1.0


def test_a_text_hook_without_state_gives_lengths_only():
    rows = text_drift_features(["hello there"], {}, hashed_bag)
    assert rows == [{"text.chars": 11, "text.tokens": 2, "text.unknown_share": 1.0}]
