"""The label set, the request schema, and the queries the project ships."""

import hashlib

import pytest
from pydantic import ValidationError

from services.intent.data import banking77_dataset, read_queries, shipped_dataset
from services.intent.schema import INTENTS, LABELS, OUT_OF_SCOPE, instance_adapter

ISSUE_INTENTS = {
    "check_balance", "spending_summary", "budget_status", "transaction_search", "bill_payment",
    "savings_goal", "investment_advice", "loan_affordability", "credit_score", "tax_saving",
    "fraud_report", "spending_forecast", "account_management", "greeting",
}


def test_label_set_is_the_fourteen_intents_plus_out_of_scope():
    assert set(INTENTS) == ISSUE_INTENTS and len(INTENTS) == 14
    assert LABELS == (*INTENTS, OUT_OF_SCOPE) == (*INTENTS, "out_of_scope")


def test_instance_schema_accepts_text_and_strips_it():
    adapter = instance_adapter(50)
    assert adapter.validate_python({"text": "  what's my balance?  "}).text == "what's my balance?"


@pytest.mark.parametrize("bad", [
    {"text": ""}, {"text": "   "}, {"text": "x" * 51}, {"text": 12}, {}, {"text": "hi", "x": 1},
    "just a string",
])
def test_instance_schema_rejects(bad):
    with pytest.raises(ValidationError):
        instance_adapter(50).validate_python(bad)


def test_every_intent_ships_sixty_distinct_queries_and_hundreds_out_of_scope():
    queries = read_queries()
    for label in INTENTS:
        assert len(set(queries[label])) >= 60, label
    assert len(set(queries[OUT_OF_SCOPE])) >= 300
    seen = {}
    for label, texts in queries.items():
        for text in texts:
            key = text.lower().strip()
            assert key not in seen, f"{text!r} is under both {seen[key]} and {label}"
            seen[key] = label


def test_shipped_split_is_fixed_disjoint_and_covers_every_label():
    first, second = shipped_dataset(), shipped_dataset()
    assert first.sha256 == second.sha256 and first.holdout.texts == second.holdout.texts
    assert not set(first.train.texts) & set(first.holdout.texts)
    assert set(first.holdout.labels) == set(LABELS) == set(first.train.labels)
    assert 0.15 < len(first.holdout) / (len(first.train) + len(first.holdout)) < 0.25
    assert len(first.sha256) == len(hashlib.sha256().hexdigest())


def test_banking77_loader_reads_the_public_files():
    try:
        data = banking77_dataset()
    except FileNotFoundError as exc:
        pytest.skip(f"Banking77 not available: {exc}")
    assert len(data.labels) == 77
    assert len(data.train) == 10003 and len(data.holdout) == 3080
