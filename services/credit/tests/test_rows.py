"""Whole-batch validation, encoding and answers (docs/bench.md "Rows that pay") give exactly
what the per-row code they replaced gave: the same bytes for 200 applications with edge values,
the same errors for every kind of bad field."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from kit.artifacts import ArtifactStore
from kit.testing import running_client
from services.credit.app import build_app
from services.credit.data import EMPLOYMENT_TYPES
from services.credit.features import FeatureSpec, Field, ratio_value
from services.credit.model import CreditModel, logit, sigmoid
from services.credit.schema import DECISIONS, band_for, risk_score
from services.credit.settings import CreditSettings

PREDICT = "/v1/models/credit:predict"


@pytest.fixture(scope="module")
def model(model_dir) -> CreditModel:
    served = CreditModel(CreditSettings())
    served.load(ArtifactStore(model_dir, "credit").load())
    return served


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


def reference_predict(model: CreditModel, instances: list[dict]) -> list[dict]:
    x = reference_encode(model.spec, instances)
    raw = model.scorer.raw_probability(x)
    probability = sigmoid(model.cal_slope * logit(raw) + model.cal_intercept)
    contributions = model.scorer.contributions(x) @ model.group_matrix
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
