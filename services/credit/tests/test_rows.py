"""Whole-batch validation, encoding and answers (docs/bench.md "Rows that pay") give exactly
what the per-row code they replaced gave: the same bytes for 200 applications with edge values,
the same errors for every kind of bad field."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pytest

from kit.artifacts import ArtifactStore
from kit.testing import running_client
from services.credit.app import build_app
from services.credit.data import EMPLOYMENT_TYPES, generate_applications
from services.credit.explain import TreeTables
from services.credit.features import FeatureSpec, Field, ratio_value
from services.credit.model import CreditModel, logit, sigmoid
from services.credit.schema import DECISIONS, band_for, risk_score
from services.credit.settings import CreditSettings
from services.credit.train import TrainConfig, train

PREDICT = "/v1/models/credit:predict"


@pytest.fixture(scope="module")
def trees_dir(tmp_path_factory) -> Path:
    """A quick XGBoost model (the session's may be the logistic one, which has no tree walk)."""
    root = tmp_path_factory.mktemp("trees")
    quick = TrainConfig(folds=3, search_budget=1, quick=True, max_trees=80, algorithm="xgboost")
    train(generate_applications(n=3000), root, quick, progress=False)
    return root


def served(directory: Path) -> CreditModel:
    model = CreditModel(CreditSettings())
    model.load(ArtifactStore(directory, "credit").load())
    return model


@pytest.fixture(scope="module", params=["xgboost", "session"])
def model(request, trees_dir, model_dir) -> CreditModel:
    """Both algorithms: the XGBoost model and the session's (whichever training chose)."""
    return served(trees_dir if request.param == "xgboost" else model_dir)


@pytest.fixture(scope="module")
def tree_model(trees_dir) -> CreditModel:
    return served(trees_dir)


def applications(n: int = 200, seed: int = 23) -> list[dict]:
    """Generated applications, ints and floats mixed, with every bound and edge on the way:
    each field's minimum and maximum, zero income (ratios over 0), -0.0, every employment type."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row = {
            "age": int(rng.integers(18, 101)), "income": round(float(rng.lognormal(11, 1)), 2),
            "loan_amount": int(rng.integers(1_000, 5_000_000)),
            "tenure_months": int(rng.choice([3, 12, 36, 60, 84, 360])),
            "existing_emis": float(rng.integers(0, 40_000)),
            "credit_history_months": int(rng.integers(0, 721)),
            "delinquencies": int(rng.poisson(1)), "utilisation": float(rng.random() * 1.5),
            "employment_type": EMPLOYMENT_TYPES[i % len(EMPLOYMENT_TYPES)],
        }
        rows.append(row)
    edges = [{"age": 18}, {"age": 100.0}, {"income": 0}, {"income": 0.0, "existing_emis": 0},
             {"income": 10_000_000}, {"loan_amount": 1_000}, {"loan_amount": 100_000_000},
             {"tenure_months": 3}, {"tenure_months": 360}, {"existing_emis": -0.0},
             {"existing_emis": 10_000_000}, {"delinquencies": 100}, {"utilisation": 5},
             {"utilisation": 0}, {"credit_history_months": 720}, {"income": 1e-9}]
    for k, edge in enumerate(edges):
        rows[k * 11 % n].update(edge)
    return rows


# --- the per-row code these replaced (7a37bbc), kept as the reference ----------------------
def reference_encode(spec: FeatureSpec, instances: list[dict]) -> np.ndarray:
    out = np.zeros((len(instances), len(spec.columns)), dtype=np.float32)
    for row, inst in enumerate(instances):
        col = 0
        for f in spec.fields:
            if f.kind == "numeric":
                out[row, col] = float(inst[f.name])
                col += 1
            else:
                out[row, col + f.values.index(inst[f.name])] = 1.0
                col += len(f.values)
        for r in spec.ratios:
            out[row, col] = ratio_value(inst, r)
            col += 1
    return out


def reference_answer(model: CreditModel, instance: dict, probability: float,
                     contributions: np.ndarray) -> dict:
    band = band_for(probability, model.medium_from, model.high_from)
    order = np.argsort(-np.abs(contributions))[: model.settings.top_reasons]
    ratios = {r.name: r for r in model.spec.ratios}
    reasons = []
    for idx in order:
        feature = model.group_names[idx]
        derived = (round(ratio_value(instance, ratios[feature]), 4) if feature in ratios
                   else None)
        reasons.append({
            "feature": feature, "value": instance.get(feature, derived),
            "contribution": round(float(contributions[idx]), 4),
            "direction": "increases_risk" if contributions[idx] > 0 else "decreases_risk"})
    return {"probability_of_default": round(probability, 6),
            "risk_score": risk_score(probability), "band": band, "decision": DECISIONS[band],
            "reasons": reasons}


def reference_contributions(trees, x: np.ndarray) -> np.ndarray:
    """The tree walk as it was: node values looked up and subtracted at every step."""
    n_trees, size = trees.feature.shape
    offset = (np.arange(n_trees, dtype=np.int64) * size)[:, None]
    leaf, own = trees.feature < 0, offset + np.arange(size)
    feature = np.where(leaf, 0, trees.feature).ravel().astype(np.int64)
    left, right, missing = (np.where(leaf, own, a + offset).ravel()
                            for a in (trees.left, trees.right, trees.missing))
    threshold, value = trees.threshold.ravel(), trees.value.ravel()
    rows, n_features = x.shape
    node = np.tile(offset.ravel(), rows)
    row_base = np.repeat(np.arange(rows, dtype=np.int64) * n_features, n_trees)
    values = x.ravel()
    slots, deltas = [], []
    for _ in range(trees.depth):
        feat_slot = row_base + feature[node]
        xv = values[feat_slot]
        nxt = np.where(xv < threshold[node], left[node], right[node])
        nxt = np.where(np.isnan(xv), missing[node], nxt)
        slots.append(feat_slot)
        deltas.append(value[nxt] - value[node])
        node = nxt
    return np.bincount(np.concatenate(slots), weights=np.concatenate(deltas),
                       minlength=rows * n_features).reshape(rows, n_features)


def reference_predict(model: CreditModel, instances: list[dict]) -> list[dict]:
    x = reference_encode(model.spec, instances)
    raw = model.scorer.raw_probability(x)
    probability = sigmoid(model.cal_slope * logit(raw) + model.cal_intercept)
    trees = getattr(model.scorer, "trees", None)
    per_column = (model.scorer.contributions(x) if trees is None
                  else reference_contributions(trees, x))
    contributions = per_column @ model.group_matrix
    return [reference_answer(model, i, p, c) for i, p, c in
            zip(instances, probability.tolist(), contributions, strict=True)]


# --- answers ---------------------------------------------------------------------------------
def test_both_encodings_are_bit_for_bit_the_per_row_one(model):
    rows = applications()
    assert model.spec.validate(rows) == []
    theirs = reference_encode(model.spec, rows)
    for ours, ratios in (model.spec._encode_columns(rows), model.spec._encode_rows(rows)):
        assert ours.dtype == theirs.dtype and np.array_equal(ours.view(np.uint32),
                                                             theirs.view(np.uint32))
        expected = [[ratio_value(row, r) for r in model.spec.ratios] for row in rows]
        assert ratios.tolist() == expected


def test_a_batch_answers_the_same_bytes_as_the_per_row_code(model):
    rows = applications()
    assert orjson.dumps(model.predict(rows)) == orjson.dumps(reference_predict(model, rows))


def test_the_walk_by_leaves_gives_the_step_by_step_contributions(tree_model):
    """Each leaf's path row (what the walk to it credits each feature) summed over the trees is
    the per-step sum, up to the order of the additions (a few ulps), with and without missing
    values, per column and per reported feature."""
    x = tree_model.spec.encode(applications())
    with_missing = x.copy()
    with_missing[::3, 2] = with_missing[1::5, 0] = np.nan
    trees, groups = tree_model.scorer.trees, tree_model.group_matrix
    for rows in (x, with_missing):
        reference = reference_contributions(trees, rows)
        np.testing.assert_allclose(tree_model.scorer.contributions(rows), reference,
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(tree_model.scorer.contributions(rows, groups),
                                   reference @ groups, rtol=0, atol=1e-12)


def test_the_leaves_are_those_each_tree_sends_a_row_to(tree_model):
    """`leaves` against a plain walk of each tree's own arrays, row by row (NaN: the missing
    child)."""
    x = tree_model.spec.encode(applications(40))
    x[::4, 1] = np.nan
    trees = tree_model.scorer.trees
    n_trees, size = trees.feature.shape
    expected = []
    for t in range(n_trees):
        for row in x:
            node = 0
            while trees.feature[t, node] >= 0:
                value = row[trees.feature[t, node]]
                node = (trees.missing[t, node] if np.isnan(value) else
                        trees.left[t, node] if value < trees.threshold[t, node]
                        else trees.right[t, node])
            expected.append(t * size + node)
    assert trees.leaves(x).tolist() == expected


def test_uneven_branches_a_lone_leaf_and_an_unsplit_column_walk_as_step_by_step():
    """Two trees by hand: one splits column 0, then column 2 on its right only (leaves at
    depths 1 and 2, NaN of column 2 sent right); the other is a single leaf. Columns 1 and 3
    are never split on: their contributions are zero, and the table has their width."""
    def row(*values):
        return np.array(values, dtype=np.float32)
    trees = TreeTables(
        feature=np.array([[0, -1, 2, -1, -1], [-1, -1, -1, -1, -1]], dtype=np.int32),
        threshold=row(0.5, 0, 1.5, 0, 0, 0, 0, 0, 0, 0).reshape(2, 5),
        left=np.array([[1, 0, 3, 0, 0], [0] * 5], dtype=np.int32),
        right=np.array([[2, 0, 4, 0, 0], [0] * 5], dtype=np.int32),
        missing=np.array([[1, 0, 4, 0, 0], [0] * 5], dtype=np.int32),
        value=np.array([[0.1, -0.3, 0.4, 0.2, 0.9], [0.7, 0, 0, 0, 0]]), bias=0.8, depth=2)
    x = np.stack([row(0.0, 9, 0, 9), row(1.0, 9, 1.0, 9), row(1.0, 9, 2.0, 9),
                  row(np.nan, 9, 2.0, 9), row(1.0, 9, np.nan, 9)])
    ours = trees.contributions(x)
    np.testing.assert_allclose(ours, reference_contributions(trees, x), rtol=0, atol=1e-15)
    assert ours.shape == (5, 4) and not ours[:, [1, 3]].any()
    np.testing.assert_allclose(ours[:, 0], [-0.4, 0.3, 0.3, -0.4, 0.3])
    np.testing.assert_allclose(ours[:, 2], [0, -0.2, 0.5, 0, 0.5])
    assert trees.leaves(x).tolist() == [1, 3, 4, 1, 4, 5, 5, 5, 5, 5]
    with pytest.raises(ValueError, match="feature 2 of 2"):
        trees.contributions(x[:, :2])


def test_an_answer_does_not_depend_on_its_neighbours(model):
    rows = applications(64, seed=5)
    singles = [model.predict([row])[0] for row in rows]
    assert orjson.dumps(model.predict(rows)) == orjson.dumps(singles)


# --- validation ------------------------------------------------------------------------------
BAD_VALUES = [("age", "thirty"), ("age", True), ("age", None), ("age", 17.999), ("age", 101),
              ("income", math.nan), ("income", math.inf), ("income", -math.inf),
              ("income", 10**400), ("income", [1]), ("utilisation", 5.000001),
              ("employment_type", "astronaut"), ("employment_type", 3),
              ("employment_type", ["salaried"]), ("employment_type", {"a": 1})]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_a_bad_value_anywhere_gives_the_per_row_errors(model, field, value):
    rows = applications(32)
    rows[17] = {**rows[17], field: value}
    errors = model.spec.validate(rows)
    assert errors == model.spec._problems(rows)
    assert [e["field"] for e in errors] == [f"instances[17].{field}"]


@pytest.mark.parametrize("change", ["missing", "extra", "not an object", "two bad"])
def test_a_bad_instance_shape_gives_the_per_row_errors(model, change):
    rows = applications(32)
    if change == "missing":
        del rows[17]["income"]
    elif change == "extra":
        rows[17]["favourite_colour"] = "blue"
    elif change == "not an object":
        rows[17] = ["age", 35]
    else:
        rows[3]["age"], rows[30]["employment_type"] = -1, None
    errors = model.spec.validate(rows)
    assert errors and errors == model.spec._problems(rows)


def test_integers_too_large_for_an_exact_float_are_checked_one_by_one():
    """2**53 + 1 becomes the float 2**53, equal to this bound: the per-row check still sees it
    exceed the bound."""
    spec = FeatureSpec.build([Field("n", "numeric", 0, 2.0**53)])
    assert spec.validate([{"n": 2**53}]) == []
    assert [e["type"] for e in spec.validate([{"n": 2**53 + 1}])] == ["less_than_equal"]


async def test_a_bad_field_in_instance_17_is_a_422_naming_it(model_dir):
    app = build_app(CreditSettings(model_dir=model_dir, max_instances=32))
    rows = applications(32)
    rows[17]["utilisation"] = 9.0
    async with running_client(app) as client:
        response = await client.post(PREDICT, json={"instances": rows})
        alone = await client.post(PREDICT, json={"instances": [rows[17]]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "instances[17].utilisation",
                                          "message": "must be ≤ 5", "type": "less_than_equal"}]
    assert alone.json()["errors"][0]["message"] == "must be ≤ 5"


# --- rounding a batch at once --------------------------------------------------------------
def test_exact_round_is_pythons_round_bit_for_bit_halves_included():
    from services.credit.schema import exact_round

    rng = np.random.default_rng(3)
    values = np.concatenate([
        rng.normal(0, 2, 20_000), rng.random(5_000), -rng.random(5_000) * 1e-4,
        # halves at 4 and 6 decimals, as written and one float step either side
        np.array([k / 1e4 + 5e-5 for k in range(-300, 300)]),
        np.array([k / 1e6 + 5e-7 for k in range(0, 300)]),
        np.nextafter(np.array([2.675, 0.00005, 1.00005, -0.00015]), np.inf),
        np.nextafter(np.array([2.675, 0.00005, 1.00005, -0.00015]), -np.inf),
        np.array([0.0, -0.0, 1e-300, -1e-300, 1e17, -3e15, 0.5, 2.5, 1.5]),
        np.array([np.inf, -np.inf])])
    for digits in (4, 6):
        ours = exact_round(values, digits)
        theirs = [round(v, digits) for v in values.tolist()]
        assert np.array_equal(np.array(ours).view(np.uint64), np.array(theirs).view(np.uint64))
    nan = exact_round(np.array([np.nan]), 4)[0]
    assert math.isnan(nan) and math.isnan(round(math.nan, 4))
    for rows in (3, 40):  # 12 values (Python rounds them) and 160 (numpy does)
        grid = values[200:200 + 4 * rows].reshape(rows, 4)
        assert exact_round(grid, 4) == [[round(v, 4) for v in row] for row in grid.tolist()]
    assert exact_round(np.float32([0.1] * 70), 4) == [0.1] * 70  # taken as float64


@pytest.mark.parametrize("repeat", [1, 10])  # 9 probabilities (Python's path) and 90 (numpy's)
def test_scores_and_bands_of_a_batch_are_the_per_row_ones(repeat):
    from services.credit.schema import band_names, risk_scores

    probabilities = np.tile(
        [0.0, 1.0, 0.005, 0.015, 0.025, 0.125, 0.994999, 0.5, 1 / 3], repeat)
    assert risk_scores(probabilities) == [risk_score(p) for p in probabilities.tolist()]
    bands = band_names(probabilities, 0.015, 0.5)
    assert bands == [band_for(p, 0.015, 0.5) for p in probabilities.tolist()]
    assert {"low", "medium", "high"} == set(bands)
    with pytest.raises(ValueError, match="finite"):
        risk_scores(np.tile([0.5, math.nan], repeat * 5))
