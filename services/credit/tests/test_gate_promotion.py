"""The promotion gate on the credit model: a candidate trained on 500 rows and one whose
approval-rate ratio falls are refused against a production trained on 10,000; a model passes
against itself; --force promotes a refused candidate and records why."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest

from kit.artifacts import new_version
from kit.gate import evaluate_release, read_holdout
from kit.registry import FileRegistry
from kit.releases import GateRefused, promote
from services.credit.data import generate_applications
from services.credit.promotion import golden_rows
from services.credit.train import TrainConfig, train


def quick() -> TrainConfig:
    return TrainConfig(folds=3, search_budget=1, quick=True, max_trees=80)


def harsher_on_the_young(n: int, seed: int = 5):
    """Applications whose labels make 8% more applicants under 25 default: a model learnt from
    them declines the young far more often (the approval-rate ratio by age falls)."""
    data = generate_applications(n=n)
    rng = np.random.default_rng(seed)
    young = data.frame["age"].to_numpy() < 25
    data.target = np.where(young & (rng.random(n) < 0.08), 1, data.target)
    return data


def next_second(previous) -> None:
    """Versions are named by the second: a quick run may finish within the last one's."""
    while new_version() <= previous.version:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("credit-gate")
    production = train(generate_applications(n=10_000), root, quick(), progress=False)
    next_second(production)
    small = train(generate_applications(n=500), root, quick(), progress=False)
    next_second(small)
    unfair = train(harsher_on_the_young(3000), root, quick(), progress=False)
    return root, production, small, unfair


def test_training_keeps_a_holdout_the_gate_reads(versions):
    _, production, small, _ = versions
    info = production.manifest["holdout_file"]
    assert info == {"file": "holdout.jsonl", "rows": 2000, "of": 2000, "sampled": False,
                    "what": info["what"]}
    assert "holdout.jsonl" in production.manifest["files"]
    rows = read_holdout(small)
    assert len(rows) == 100 and set(rows[0]) == {"instance", "defaulted", "sensitive"}
    assert rows[0]["sensitive"]["age"] == rows[0]["instance"]["age"]


def test_a_candidate_trained_on_500_rows_is_refused(versions):
    _, production, small, _ = versions
    result = evaluate_release("credit", small, production)
    assert not result.passed
    assert result.failures and all(r.verdict == "fail" for r in result.failures)
    failed = result.failures[0]
    assert failed.ci_high is not None and failed.ci_low is not None
    table = result.table()
    assert "FAILED" in table and "FAIL (" in table and "failed:" in table
    record = json.loads(json.dumps(result.to_dict()))
    assert record["passed"] is False and record["failed"]
    assert {s["name"]: s["rows"] for s in record["sets"]} == {"holdout": 100, "golden": 2000}


def test_a_candidate_whose_approval_rate_ratio_falls_is_refused(versions):
    _, production, _, unfair = versions
    result = evaluate_release("credit", unfair, production)
    assert not result.passed
    fairness = [r for r in result.failures if r.metric == "approval_ratio_age"]
    assert fairness, result.table()
    row = fairness[0]
    assert row.outcome.startswith("worse") and row.difference < -0.05 and row.ci_high < 0


def test_a_model_passes_against_itself(versions):
    _, production, _, _ = versions
    result = evaluate_release("credit", production, production)
    assert result.passed, result.table()
    assert all(r.difference == 0 and r.ci_low == r.ci_high == 0 for r in result.rows)
    assert {r.metric for r in result.rows} == {"auc", "brier", "approval_ratio_age"}


def test_a_version_without_a_holdout_is_judged_on_the_golden_set(versions):
    _, production, small, _ = versions
    manifest = {k: v for k, v in small.manifest.items() if k != "holdout_file"}
    result = evaluate_release("credit", replace(small, manifest=manifest), production)
    assert [s["name"] for s in result.sets] == ["golden"]
    assert any("no holdout" in note for note in result.notes)


def test_golden_applications_are_fixed_and_labelled():
    rows = golden_rows()
    assert len(rows) == 2000
    assert 0.05 < np.mean([r["defaulted"] for r in rows]) < 0.2
    assert sum(r["instance"]["age"] < 25 for r in rows) >= 10  # the youngest group is judged


def test_force_promotes_a_refused_candidate_and_records_why(versions):
    root, production, small, _ = versions
    registry = FileRegistry(root, "credit")
    registry.set_alias("production", production.version, actor="test", reason="setup")
    with pytest.raises(GateRefused):
        promote(registry, small.version, actor="test")
    assert registry.aliases().aliases["production"] == production.version
    done = promote(registry, small.version, force=True, reason="smaller model for a pilot",
                   actor="test")
    assert done.forced and not done.passed
    change = registry.history()[-1]
    assert (change.alias, change.to_version, change.forced) == ("production", small.version,
                                                                 True)
    assert change.reason == "smaller model for a pilot"
    assert change.gate["passed"] is False and change.gate["failed"]
