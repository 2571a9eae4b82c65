"""The gate's model-agnostic part: metrics recomputed on resamples, the paired bootstrap and its
rule, the result's table and record, holdout files and text perturbations."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from kit import gate
from kit.artifacts import Artifact
from kit.errors import InvalidInput
from kit.gate import (
    Bootstrap,
    Criterion,
    EvaluationSet,
    GateSpec,
    auc,
    average_precision,
    evaluate_release,
    judge,
    mean,
    mean_where,
    micro_f1,
    paired_bootstrap,
    perturb_pieces,
    perturb_text,
    rate_ratio,
    read_holdout,
    resample_counts,
    write_holdout,
)

ACCURACY = Criterion("accuracy", "higher", tolerance=0.01, title="accuracy")


def correct(rate: float, n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(float)


def verdict(criterion: Criterion, cand: dict, prod: dict | None, metric=None, strata=None):
    metric = metric or mean("correct")
    n = len(next(iter(cand.values())))
    paired = paired_bootstrap({criterion.metric: metric}, cand, prod, n=n, strata=strata,
                              key="test")[criterion.metric]
    return judge(criterion, "test", paired, prod is not None)


# --- metrics ------------------------------------------------------------------------------
def test_weighted_metrics_match_sklearn_on_duplicated_rows():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.2).astype(float)
    score = np.round(rng.random(300) + 0.5 * y, 2)  # rounded: ties, which both count a half
    counts = rng.integers(0, 4, 300).astype(float)
    outcomes = {"score": score, "label": y}
    w = counts[None, :]
    assert auc("score", "label").compute(w, outcomes)[0] == pytest.approx(
        roc_auc_score(y, score, sample_weight=counts))
    assert average_precision("score", "label").compute(w, outcomes)[0] == pytest.approx(
        average_precision_score(y, score, sample_weight=counts))
    assert auc("score", "label").value(outcomes) == pytest.approx(roc_auc_score(y, score))


def test_means_micro_f1_and_rate_ratio():
    o = {"x": np.array([1.0, 0, 1, 1]), "m": np.array([1.0, 1, 0, 0]),
         "tp": np.array([2.0, 0]), "fp": np.array([1.0, 1]), "fn": np.array([0.0, 2])}
    w = np.array([[1.0, 1, 1, 1], [0, 2, 1, 1]])
    np.testing.assert_allclose(mean("x").compute(w, o), [0.75, 0.5])
    np.testing.assert_allclose(mean_where("x", "m").compute(w, o), [0.5, 0.0])
    assert micro_f1().value(o) == pytest.approx(2 * 2 / (2 * 2 + 2 + 2))
    groups = {"approved": np.r_[np.ones(20), np.zeros(5), np.ones(15), np.ones(3)],
              "group": np.array(["a"] * 25 + ["b"] * 15 + ["c"] * 3)}
    # a: 20/25 approved, b: 15/15; c has 3 rows, fewer than 10: not counted
    assert rate_ratio("approved", "group").value(groups) == pytest.approx(0.8)


def test_a_metric_undefined_on_a_resample_is_nan():
    o = {"x": np.array([1.0, 0.0]), "m": np.array([0.0, 0.0])}
    assert np.isnan(mean_where("x", "m").value(o))


# --- resampling ------------------------------------------------------------------------------
def test_resample_counts_are_seeded_and_keep_strata():
    strata = np.array([0] * 90 + [1] * 10)
    first = resample_counts(100, 50, np.random.default_rng(3), strata)
    again = resample_counts(100, 50, np.random.default_rng(3), strata)
    np.testing.assert_array_equal(first, again)
    assert (first.sum(axis=1) == 100).all()
    assert (first[:, 90:].sum(axis=1) == 10).all()  # every resample keeps the ten positives
    plain = resample_counts(100, 200, np.random.default_rng(3))
    assert (plain.sum(axis=1) == 100).all() and plain.std() > 0


def test_chunked_resamples_give_the_same_intervals():
    cand = {"correct": correct(0.8, 500, 1)}
    prod = {"correct": correct(0.8, 500, 2)}
    metrics = {"accuracy": mean("correct")}
    small = paired_bootstrap(metrics, cand, prod, n=500, key="k",
                             settings=Bootstrap(max_cells=5_000))["accuracy"]
    large = paired_bootstrap(metrics, cand, prod, n=500, key="k")["accuracy"]
    assert small == large


# --- the rule ----------------------------------------------------------------------------
def test_identical_models_pass_with_a_zero_interval():
    outcomes = {"correct": correct(0.85, 1000, 1)}
    row = verdict(ACCURACY, outcomes, outcomes)
    assert row.verdict == "pass" and row.difference == 0 and row.ci_low == row.ci_high == 0


def test_two_equally_good_models_pass():
    """Right on ~85% of 3,000 rows each, disagreeing on 126 of them: the candidate is 0.2
    points behind (as two equally good heads on Banking77 differ), which is noise."""
    base = correct(0.85, 3000, 1)
    rng = np.random.default_rng(9)
    other = base.copy()
    other[rng.choice(np.flatnonzero(base == 1), 66, replace=False)] = 0
    other[rng.choice(np.flatnonzero(base == 0), 60, replace=False)] = 1
    row = verdict(ACCURACY, {"correct": other}, {"correct": base})
    assert row.difference == pytest.approx(-0.002)
    assert row.verdict == "pass"
    assert row.ci_low < 0 < row.ci_high


def test_a_clearly_worse_model_fails():
    base = correct(0.85, 2000, 1)
    worse = np.where(np.random.default_rng(2).random(2000) < 0.12, 0.0, base)  # ~10 points off
    row = verdict(ACCURACY, {"correct": worse}, {"correct": base})
    assert row.verdict == "fail" and row.outcome == "worse"
    assert row.ci_high < -0.01
    assert "beyond the tolerance 0.01" in row.why


def test_a_real_worsening_within_tolerance_passes():
    base = correct(0.85, 5000, 1)
    worse = np.where(np.random.default_rng(2).random(5000) < 0.006, 0.0, base)  # ~0.5 point
    row = verdict(ACCURACY, {"correct": worse}, {"correct": base})
    assert row.difference < 0 and row.ci_high < 0  # real,
    assert row.verdict == "pass" and row.outcome == "worse, within tolerance"  # but allowed


def test_a_large_gap_on_few_rows_is_not_a_refusal():
    base = correct(0.8, 40, 1)
    worse = base.copy()
    worse[np.flatnonzero(base)[:2]] = 0  # 5 points worse, on 40 rows
    row = verdict(ACCURACY, {"correct": worse}, {"correct": base})
    assert row.difference == pytest.approx(-0.05)
    assert row.verdict == "pass" and row.outcome == "inconclusive"
    assert "includes no change" in row.why


def test_lower_is_better_criteria_fail_on_a_rise():
    brier = Criterion("brier", "lower", tolerance=0.002)
    errors = np.random.default_rng(1).random(2000) ** 2 * 0.3
    row = verdict(brier, {"e": errors + 0.01}, {"e": errors}, metric=mean("e"))
    assert row.verdict == "fail" and row.difference == pytest.approx(0.01)
    better = verdict(brier, {"e": errors * 0.5}, {"e": errors}, metric=mean("e"))
    assert better.verdict == "pass" and better.outcome == "better"


FAIRNESS = Criterion("ratio", "higher", tolerance=0.05, floor=0.8, title="ratio")


def approvals(rate_b: float, n: int = 400) -> dict:
    rng = np.random.default_rng(4)
    group = np.array(["a", "b"] * (n // 2))
    approved = np.where(group == "a", rng.random(n) < 0.9, rng.random(n) < rate_b)
    return {"approved": approved.astype(float), "group": group}


def test_a_floor_fails_a_candidate_that_falls_below_it():
    ratio = rate_ratio("approved", "group")
    row = verdict(FAIRNESS, approvals(0.5), approvals(0.88), metric=ratio)
    assert row.verdict == "fail" and row.candidate < 0.8 <= row.production
    assert "floor 0.8" in row.why


def test_a_floor_production_is_already_below_does_not_refuse_an_equal_candidate():
    ratio = rate_ratio("approved", "group")
    row = verdict(FAIRNESS, approvals(0.55), approvals(0.55), metric=ratio)
    assert row.verdict == "pass" and "as production is" in row.why


def test_a_first_release_is_judged_on_floors_only():
    ratio = rate_ratio("approved", "group")
    assert verdict(FAIRNESS, approvals(0.5), None, metric=ratio).verdict == "fail"
    assert verdict(FAIRNESS, approvals(0.88), None, metric=ratio).verdict == "pass"
    plain = verdict(ACCURACY, {"correct": correct(0.1, 100, 1)}, None)
    assert plain.verdict == "pass" and plain.outcome == "first release"


def test_criteria_are_checked():
    with pytest.raises(ValueError, match="direction"):
        Criterion("x", "up", tolerance=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        Criterion("x", "higher", tolerance=-1)
    with pytest.raises(ValueError, match="not declared"):
        GateSpec((ACCURACY,), {}, lambda a: ([], []), lambda m, s: {})


# --- evaluate_release with a fake service ------------------------------------------------
class Guesser:
    """A "model" whose predictions are its artifact's answers; `refuses` raises InvalidInput."""

    def __init__(self, artifact: Artifact) -> None:
        self.answers = artifact.manifest["answers"]
        self.refuses = artifact.manifest.get("refuses", False)

    def close(self) -> None:
        self.closed = True


def fake_spec() -> GateSpec:
    def sets(candidate):
        return [EvaluationSet("holdout", list(range(600)), "test rows",
                              strata=[i % 2 for i in range(600)])], ["a note"]

    def outcomes(model, eval_set):
        if model.refuses:
            raise InvalidInput("1 invalid field(s) in the instances")
        return {"correct": np.asarray(model.answers, dtype=float)}

    return GateSpec((ACCURACY,), {"accuracy": mean("correct")}, sets, outcomes)


def artifact(version: str, answers, **extra) -> Artifact:
    return Artifact("fake", version, Path("/nonexistent"), {"answers": list(answers), **extra})


@pytest.fixture
def fake_models(monkeypatch):
    monkeypatch.setattr(gate, "served_model", lambda name, art: Guesser(art))


def test_a_failing_release_has_a_table_and_a_json_record(fake_models):
    good, bad = correct(0.9, 600, 1), correct(0.6, 600, 2)
    result = evaluate_release("fake", artifact("v2", bad), artifact("v1", good),
                              spec=fake_spec())
    assert not result.passed and result.failures[0].title == "accuracy ↑"
    table = result.table()
    for text in ("fake: candidate v2 vs production v1: FAILED (1 of 1 criteria failed)",
                 "holdout 600 rows (test rows)", "95% CI of difference", "FAIL (worse)",
                 "failed:", "a note"):
        assert text in table, text
    record = json.loads(json.dumps(result.to_dict()))
    assert record["failed"] == ["holdout accuracy ↑"]
    row = record["criteria"][0]
    for key in ("metric", "set", "candidate", "production", "difference", "ci_low", "ci_high",
                "tolerance", "direction", "verdict", "why"):
        assert key in row, key
    assert row["ci_low"] < row["difference"] < row["ci_high"] < 0
    assert record["bootstrap"]["resamples"] == 1000 and record["seconds"] >= 0
    assert record["sets"] == [{"name": "holdout", "rows": 600, "source": "test rows",
                               "stratified": True}]


def test_same_answers_pass_and_a_first_release_passes_with_a_note(fake_models):
    answers = correct(0.9, 600, 1)
    assert evaluate_release("fake", artifact("v2", answers), artifact("v1", answers),
                            spec=fake_spec()).passed
    first = evaluate_release("fake", artifact("v2", answers), None, spec=fake_spec())
    assert first.passed and first.production is None
    assert "first release" in first.table()


def test_a_production_that_cannot_score_the_rows_is_a_failure(fake_models):
    answers = correct(0.9, 600, 1)
    result = evaluate_release("fake", artifact("v2", answers),
                              artifact("v1", answers, refuses=True), spec=fake_spec())
    assert not result.passed and result.failures[0].outcome == "not comparable"
    skipped = evaluate_release("fake", artifact("v2", answers, refuses=True),
                               artifact("v1", answers), spec=fake_spec())
    assert not skipped.passed and "cannot score" in skipped.notes[-2]


# --- holdout files ----------------------------------------------------------------------
def test_holdouts_round_trip_capped_and_gzipped(tmp_path):
    rows = [{"i": np.int64(i), "x": np.float32(0.5), "tags": np.array([1, 2])}
            for i in range(50)]
    info = write_holdout(tmp_path, rows, what="test", cap=10, seed=1)
    assert info == {"file": "holdout.jsonl", "rows": 10, "of": 50, "sampled": True,
                    "what": "test"}
    art = Artifact("m", "v", tmp_path, {"holdout_file": info})
    kept = read_holdout(art)
    assert len(kept) == 10 and kept == sorted(kept, key=lambda r: r["i"])
    assert kept[0]["tags"] == [1, 2]
    info = write_holdout(tmp_path, rows, what="all", cap=None, file="h.jsonl.gz")
    first = (tmp_path / "h.jsonl.gz").read_bytes()
    write_holdout(tmp_path, rows, what="all", cap=None, file="h.jsonl.gz")
    assert (tmp_path / "h.jsonl.gz").read_bytes() == first  # no timestamp in the gzip header
    assert len(gzip.decompress(first).splitlines()) == 50
    assert len(read_holdout(Artifact("m", "v", tmp_path, {"holdout_file": info}))) == 50
    assert read_holdout(Artifact("m", "v", tmp_path, {})) is None


# --- perturbations --------------------------------------------------------------------
def test_text_perturbations_are_seeded_and_change_the_text():
    texts = ["How much money did I send to Rahul today?", "what's my balance",
             "Block my debit card immediately", "hi"]
    done = [perturb_text(t) for t in texts]
    assert done == [perturb_text(t) for t in texts]
    assert all(d is not None and d[0] != t for d, t in zip(done, texts, strict=True))
    kinds = {perturb_text(f"Please show my spending on food number {i}")[1] for i in range(40)}
    assert kinds == {"typo", "case", "spacing", "hinglish"}


def test_hinglish_spellings_replace_common_words():
    pieces = [("How much money did I send", False)]
    results = {perturb_pieces(pieces, f"k{i}")[0][0] for i in range(40)}
    assert "kitna paisa did I bhejo" in results


def test_protected_pieces_change_only_in_case():
    pieces = [("Paid ", False), ("₹2,340", True), (" to my friend at ", False),
              ("BigBasket", True), (" yesterday please", False)]
    for i in range(40):
        texts, kind = perturb_pieces(pieces, f"k{i}")
        assert texts[1] == "₹2,340"
        assert texts[3] in ("BigBasket", "bigbasket", "BIGBASKET")
        if kind != "case":
            assert texts[3] == "BigBasket"
