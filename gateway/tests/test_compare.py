"""Candidate-vs-production comparisons: each kind, a candidate that disagrees on purpose,
malformed answers, the bounded window, the metrics, and the table's declarations."""

from __future__ import annotations

import copy
import importlib
import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel, ValidationError

from gateway.compare import Comparisons, RememberedPairs, compare_one, render
from kit.catalog import CompareRow, ServiceRow, load_catalog

# One hand-made prediction per model, checked against the services' own schemas below.
PREDICTIONS = {
    "intent": {"label": "spending_summary", "confidence": 0.91,
               "alternatives": [{"label": "budget_status", "confidence": 0.05}]},
    "ner": {"reference_date": "2026-05-01", "entities": [
        {"text": "₹2,450", "label": "MONEY", "start": 5, "end": 11,
         "value": {"amount": 2450, "currency": "INR"}},
        {"text": "Swiggy", "label": "MERCHANT", "start": 15, "end": 21, "value": None}]},
    "spending": {"method": "theta", "interval_width": 0.8, "history_months": 18,
                 "history_kind": "monthly", "fit_ms": 12.0, "cached": False,
                 "forecast": [{"month": "2026-11", "yhat": 52000.0, "lower": 48000.0,
                               "upper": 56000.0}],
                 "total": {"yhat": 52000.0, "lower": 48000.0, "upper": 56000.0}},
    "anomaly": {"transaction_id": "t1", "score": 0.72, "is_anomaly": True,
                "reasons": ["amount is 9x the usual"]},
    "credit": {"probability_of_default": 0.12, "risk_score": 12, "band": "low",
               "decision": "approve", "reasons": []},
}


def comparisons(window: int = 1000) -> tuple[Comparisons, CollectorRegistry]:
    registry = CollectorRegistry()
    return Comparisons.from_catalog(load_catalog(), registry, window), registry


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def credit(pd: float, band: str) -> dict:
    return {**PREDICTIONS["credit"], "probability_of_default": pd, "band": band}


def prediction_class(row: ServiceRow) -> type[BaseModel]:
    """The schema module's one `...Prediction` class (pydantic only: no model code)."""
    schema = importlib.import_module(f"{row.module_name}.schema")
    (cls,) = [v for k, v in vars(schema).items() if k.endswith("Prediction")
              and isinstance(v, type) and issubclass(v, BaseModel)
              and v.__module__ == schema.__name__]
    return cls


def schema_node(schema: dict, path: str) -> dict:
    """The JSON-schema node at a dotted path, following $ref and optional (anyOf … null)."""
    def resolve(node: dict) -> dict:
        while True:
            if "$ref" in node:
                node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            elif "anyOf" in node:
                (node,) = [n for n in node["anyOf"] if n.get("type") != "null"]
            else:
                return node

    node = resolve(schema)
    for step in path.split("."):
        node = resolve(node["items"] if step.lstrip("-").isdigit() else node["properties"][step])
    return node


def test_every_service_declares_measures_at_paths_its_schema_has():
    for row in load_catalog().services:
        assert row.compare, f"{row.name} declares no [service.compare] measure"
        schema = prediction_class(row).model_json_schema(mode="serialization")
        for name, measure in row.compare.items():
            node = schema_node(schema, measure.path)  # KeyError: no such field
            if measure.kind in ("shift", "relative"):
                assert node.get("type") in ("number", "integer"), (row.name, name)
            if measure.kind == "spans_f1":
                assert node["type"] == "array", (row.name, name)
                assert set(measure.keys) <= set(schema_node(schema, measure.path + ".0")
                                                ["properties"]), (row.name, name)


def test_the_hand_made_predictions_follow_the_schemas():
    for row in load_catalog().services:
        prediction_class(row).model_validate(PREDICTIONS[row.name])


def test_the_catalog_rejects_an_unknown_kind_or_a_bad_measure_name():
    fields = dict(name="x", port=9999, answers="", example={"a": 1}, vary="a")
    with pytest.raises(ValidationError):
        ServiceRow(**fields, compare={"m": {"kind": "median", "path": "a"}})
    with pytest.raises(ValidationError):
        ServiceRow(**fields, compare={"Bad-Name": {"kind": "agree", "path": "a"}})


def test_identical_answers_read_as_full_agreement_for_every_model():
    comp, registry = comparisons()
    for model, prediction in PREDICTIONS.items():
        comp.record(model, [prediction], [copy.deepcopy(prediction)], 0.01, 0.02, "shadow")
        for name, m in comp.summary(model)["measures"].items():
            reading = m["window"]
            assert reading["count"] == 1 and reading["incomparable"] == 0, (model, name)
            expected = {"agree": ("agreement", 1.0), "shift": ("mean_abs_shift", 0.0),
                        "relative": ("mean_relative", 0.0), "spans_f1": ("mean_f1", 1.0)}
            key, value = expected[m["kind"]]
            assert reading[key] == value, (model, name)
    assert sample(registry, "finfleet_shadow_comparisons_total",
                  model="credit", measure="band", outcome="agree") == 1
    assert sample(registry, "finfleet_shadow_comparisons_total",
                  model="credit", measure="pd", outcome="compared") == 1


def test_a_credit_candidate_that_disagrees_on_purpose_moves_the_measures():
    comp, registry = comparisons()
    production = [credit(0.05 * i, "low" if i < 4 else "medium") for i in range(10)]
    candidate = [credit(p["probability_of_default"] + 0.1,
                        "medium" if i >= 2 else "low") for i, p in enumerate(production)]
    comp.record("credit", production, candidate, 0.010, 0.030, "shadow")

    summary = comp.summary("credit")
    pd, band = summary["measures"]["pd"]["window"], summary["measures"]["band"]["window"]
    assert pd["count"] == 10
    assert pd["mean_shift"] == pytest.approx(0.1) and pd["mean_abs_shift"] == pytest.approx(0.1)
    assert band["agreement"] == pytest.approx(0.8)  # i = 2, 3 moved from low to medium
    assert summary["measures"]["band"]["all_time"]["agreement"] == pytest.approx(0.8)
    assert summary["pairs"] == {"window": 10, "all_time": 10}
    assert sample(registry, "finfleet_shadow_comparisons_total",
                  model="credit", measure="band", outcome="disagree") == 2
    assert sample(registry, "finfleet_shadow_difference_sum",
                  model="credit", measure="pd") == pytest.approx(1.0)
    assert sample(registry, "finfleet_shadow_difference_bucket",
                  model="credit", measure="pd", le="0.05") == 0
    assert summary["latency"]["candidate"]["shadow"]["p50"] == 0.030


def test_remembered_pairs_count_again_exactly_as_first_compared():
    comp, registry = comparisons()
    production = [credit(0.1, "low"), credit(0.3, "medium")]
    candidate = [credit(0.2, "low"), credit(0.3, "high")]
    pairs = comp.record("credit", production, candidate, 0.010, 0.030, "shadow")
    remembered = RememberedPairs(max_entries=2)
    remembered.put("v2", ["k1", "k2"], pairs)
    comp.recount("credit", remembered.get("v2", ["k2", "k1"]))
    summary = comp.summary("credit")
    assert summary["pairs"]["all_time"] == 4
    assert summary["measures"]["pd"]["all_time"]["mean_shift"] == pytest.approx(0.05)
    assert summary["measures"]["band"]["all_time"]["agreement"] == pytest.approx(0.5)
    assert sample(registry, "finfleet_shadow_comparisons_total",
                  model="credit", measure="band", outcome="disagree") == 2
    assert summary["latency"]["candidate"]["shadow"]["count"] == 1  # a repeat is not timed
    # another candidate version, or any key not remembered, is sent instead
    assert remembered.get("v3", ["k1"]) is None and remembered.get("v2", ["k1", "k9"]) is None
    remembered.put("v2", ["k3"], pairs[:1])  # bounded: the least recently used goes
    assert remembered.get("v2", ["k2"]) is None and remembered.get("v2", ["k1", "k3"])


def test_intent_label_agreement_and_confidence_shift():
    comp, _ = comparisons()
    base = PREDICTIONS["intent"]
    comp.record_pair("intent", base, {**base, "confidence": 0.81})
    comp.record_pair("intent", base, {**base, "label": "out_of_scope", "confidence": 0.95})
    window = comp.summary("intent")["measures"]
    assert window["label"]["window"]["agreement"] == 0.5
    assert window["confidence"]["window"]["mean_shift"] == pytest.approx((-0.10 + 0.04) / 2)
    assert window["confidence"]["window"]["mean_abs_shift"] == pytest.approx((0.10 + 0.04) / 2)


def test_ner_span_f1_of_the_candidate_against_production():
    measure = load_catalog().service("ner").compare["entities"]
    base = PREDICTIONS["ner"]
    money, merchant = base["entities"]
    dropped = {**base, "entities": [money]}
    relabelled = {**base, "entities": [money, {**merchant, "label": "CATEGORY"}]}
    other_value = {**base, "entities": [money, {**merchant, "value": {"x": 1}}]}
    assert compare_one(measure, base, dropped) == pytest.approx(2 / 3)
    assert compare_one(measure, base, relabelled) == pytest.approx(0.5)
    assert compare_one(measure, base, other_value) == 1.0  # only start, end, label count
    assert compare_one(measure, {**base, "entities": []}, {**base, "entities": []}) == 1.0
    assert compare_one(measure, {**base, "entities": []}, dropped) == 0.0

    comp, registry = comparisons()
    comp.record("ner", [base, base], [base, dropped], 0.01, 0.01, "shadow")
    reading = comp.summary("ner")["measures"]["entities"]["window"]
    assert reading["mean_f1"] == pytest.approx((1 + 2 / 3) / 2) and reading["mean_f1"] < 1
    assert sample(registry, "finfleet_shadow_comparisons_total",
                  model="ner", measure="entities", outcome="disagree") == 1


def test_spending_relative_difference_and_anomaly_decisions():
    comp, _ = comparisons()
    base = PREDICTIONS["spending"]
    higher = copy.deepcopy(base)
    higher["forecast"][0]["yhat"] = 52000.0 * 1.1
    higher["total"]["yhat"] = 52000.0 * 0.95
    comp.record_pair("spending", base, higher)
    measures = comp.summary("spending")["measures"]
    assert measures["next_month"]["window"]["mean_relative"] == pytest.approx(0.1)
    assert measures["total"]["window"]["mean_relative"] == pytest.approx(0.05)
    zero = CompareRow(kind="relative", path="v")
    assert math.isfinite(compare_one(zero, {"v": 0}, {"v": 1}))
    assert compare_one(zero, {"v": 0}, {"v": 0}) == 0.0

    anomaly = PREDICTIONS["anomaly"]
    comp.record_pair("anomaly", anomaly, {**anomaly, "is_anomaly": False, "score": 0.42})
    measures = comp.summary("anomaly")["measures"]
    assert measures["decision"]["window"]["agreement"] == 0.0
    assert measures["score"]["window"]["mean_shift"] == pytest.approx(-0.30)


@pytest.mark.parametrize("candidate", [
    None, "not an object", [], {}, {"probability_of_default": "0.2", "band": ["low"]},
    {"probability_of_default": True}, {"probability_of_default": float("nan")},
])
def test_a_malformed_answer_is_incomparable_and_never_raises(candidate):
    comp, registry = comparisons()
    values = comp.record_pair("credit", PREDICTIONS["credit"], candidate)
    assert values["pd"] is None
    summary = comp.summary("credit")["measures"]["pd"]
    assert summary["window"] == {"count": 0, "incomparable": 1, "mean_shift": None,
                                 "mean_abs_shift": None}
    assert sample(registry, "finfleet_shadow_comparisons_total",
                  model="credit", measure="pd", outcome="incomparable") == 1
    pd_row = next(line for line in render(comp.summary("credit")).splitlines()
                  if line.startswith("pd "))
    assert pd_row.split() == ["pd", "shift", "probability_of_default", "-", "-", "1", "/", "1"]


@pytest.mark.parametrize("entities", [
    "MONEY", [["MONEY", 0, 5]], [{"label": "MONEY", "start": 0}],
    [{"label": ["MONEY"], "start": 0, "end": 5}],
])
def test_malformed_spans_are_incomparable(entities):
    measure = load_catalog().service("ner").compare["entities"]
    assert compare_one(measure, PREDICTIONS["ner"], {"entities": entities}) is None


def test_uneven_or_non_list_answers_count_the_unpaired_as_incomparable():
    comp, _ = comparisons()
    comp.record("credit", [credit(0.1, "low")] * 3, [credit(0.1, "low")], 0.01, 0.01, "shadow")
    comp.record("credit", [credit(0.1, "low")], {"error": "boom"}, 0.01, 0.01, "shadow")
    band = comp.summary("credit")["measures"]["band"]["window"]
    assert band["count"] == 1 and band["incomparable"] == 3


def test_the_window_is_bounded_and_all_time_keeps_counting():
    comp, _ = comparisons(window=5)
    for _ in range(3):
        comp.record("credit", [credit(0.1, "low")], [credit(0.5, "high")], 0.5, 0.5, "shadow")
    for _ in range(5):
        comp.record("credit", [credit(0.1, "low")], [credit(0.1, "low")], 0.01, 0.02, "shadow")
    summary = comp.summary("credit")
    band = summary["measures"]["band"]
    assert band["window"]["count"] == 5 and band["window"]["agreement"] == 1.0
    assert band["all_time"]["count"] == 8 and band["all_time"]["agreement"] == 5 / 8
    assert summary["pairs"] == {"window": 5, "all_time": 8}
    latency = summary["latency"]
    assert latency["production"]["shadow"] == {"count": 5, "p50": 0.01, "p99": 0.01}
    assert latency["candidate"]["shadow"]["p99"] == 0.02


def test_canary_traffic_records_latency_per_version_but_pairs_nothing():
    comp, registry = comparisons()
    for ms in range(1, 101):
        comp.record_latency("intent", "candidate", ms / 1000, "canary")
    comp.record("intent", [PREDICTIONS["intent"]], [{}], 0.004, None, "canary")
    summary = comp.summary("intent")
    assert summary["pairs"]["all_time"] == 0
    assert summary["measures"]["label"]["all_time"]["count"] == 0
    assert summary["latency"]["candidate"]["canary"] == {"count": 100, "p50": 0.05, "p99": 0.099}
    assert summary["latency"]["production"]["canary"]["count"] == 1
    assert sample(registry, "finfleet_traffic_latency_seconds_count",
                  model="intent", role="candidate", source="canary") == 100
    with pytest.raises(ValueError):
        comp.record_latency("intent", "staging", 0.1, "canary")
    with pytest.raises(ValueError):
        comp.record_latency("intent", "candidate", 0.1, "mirror")


def test_a_model_without_traffic_or_measures_reads_empty():
    comp, _ = comparisons()
    summary = comp.summary("nobody")
    assert summary["measures"] == {} and summary["latency"] == {}
    assert "no measures declared" in render(summary)
    assert comp.record_pair("nobody", {"a": 1}, {"a": 2}) == {}
    assert set(comp.summary("intent")["measures"]) == {"label", "confidence"}


def test_render_puts_the_measures_and_the_latencies_side_by_side():
    comp, _ = comparisons()
    comp.record("credit", [credit(0.1, "low")] * 4,
                [credit(0.2, "low")] * 3 + [credit(0.2, "medium")], 0.012, 0.034, "shadow")
    text = render(comp.summary("credit"))
    assert "credit: 4 shadow pairs" in text
    assert "75.0% agree, n=4" in text and "+0.1000 (|0.1000|), n=4" in text
    production, candidate = (line for line in text.splitlines()
                             if line.startswith(("production", "candidate")))
    assert "12.0 ms" in production and "34.0 ms" in candidate


def test_the_metrics_text_has_every_series():
    comp, registry = comparisons()
    comp.record("ner", [PREDICTIONS["ner"]], [{"entities": []}], 0.01, 0.02, "shadow")
    comp.record_pair("ner", PREDICTIONS["ner"], None)
    text = generate_latest(registry).decode()
    assert ('finfleet_shadow_comparisons_total{measure="entities",model="ner",'
            'outcome="disagree"} 1.0') in text
    assert 'outcome="incomparable"} 1.0' in text
    assert 'finfleet_shadow_difference_bucket{le="1.0",measure="entities",model="ner"} 1.0' in text
    assert 'finfleet_traffic_latency_seconds_count{model="ner",role="candidate",source="shadow"}' \
        in text
