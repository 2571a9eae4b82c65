"""The trained shipped-data model: known queries, out-of-scope, order, and response shape."""

import pytest

from kit import InvalidInput
from services.intent.schema import INTENTS, LABELS, OUT_OF_SCOPE

KNOWN = {
    "check_balance": "how much money is left in my savings account right now?",
    "spending_summary": "how much did i spend on food delivery last month",
    "budget_status": "set my monthly grocery budget to ₹10,000",
    "transaction_search": "find the payment I made to Croma last week",
    "bill_payment": "pay my airtel broadband bill",
    "savings_goal": "create a savings goal of 3 lakh for a new car",
    "investment_advice": "should I invest in a large cap mutual fund through SIP?",
    "loan_affordability": "can I afford a home loan EMI of 45,000 on my salary?",
    "credit_score": "what is my current CIBIL score",
    "tax_saving": "how can I save income tax under section 80C",
    "fraud_report": "my credit card was stolen, block it now",
    "spending_forecast": "predict how much I will spend next month",
    "account_management": "I want to update my registered email and mobile number",
    "greeting": "hello there, thank you!",
}
OUT_OF_SCOPE_QUERIES = [
    "what's the weather going to be like in Kolkata tomorrow?",
    "give me a recipe for aloo paratha",
    "who won the football world cup in 2022",
    "how do I change the oil in my scooter",
]


def test_known_query_from_each_intent(intent_model):
    assert set(KNOWN) == set(INTENTS)
    predictions = intent_model.classify(list(KNOWN.values()))
    got = {intent: p["label"] for intent, p in zip(KNOWN, predictions, strict=True)}
    assert got == dict(zip(KNOWN, KNOWN, strict=True))


def test_out_of_scope_queries(intent_model):
    labels = [p["label"] for p in intent_model.classify(OUT_OF_SCOPE_QUERIES)]
    assert labels == [OUT_OF_SCOPE] * len(OUT_OF_SCOPE_QUERIES)


def test_prediction_shape(intent_model):
    (prediction,) = intent_model.predict([{"text": KNOWN["credit_score"]}])
    assert set(prediction) == {"label", "confidence", "alternatives"}
    assert 0.0 <= prediction["confidence"] <= 1.0
    alternatives = prediction["alternatives"]
    assert len(alternatives) == 3
    assert prediction["label"] not in {a["label"] for a in alternatives}
    assert {a["label"] for a in alternatives} <= set(LABELS)
    confidences = [a["confidence"] for a in alternatives]
    assert confidences == sorted(confidences, reverse=True)
    assert prediction["confidence"] >= confidences[0]


def test_batch_keeps_order_and_matches_single_predictions(intent_model):
    texts = [*KNOWN.values(), *OUT_OF_SCOPE_QUERIES][::-1]
    batch = intent_model.predict([{"text": t} for t in texts])
    singles = [intent_model.predict([{"text": t}])[0] for t in texts]
    assert [p["label"] for p in batch] == [p["label"] for p in singles]
    for b, s in zip(batch, singles, strict=True):
        assert b["confidence"] == pytest.approx(s["confidence"], abs=2e-3)


def test_invalid_instances_name_the_field(intent_model):
    with pytest.raises(InvalidInput) as info:
        intent_model.predict([{"text": "ok"}, {"text": "x" * 5000}, {"txt": "typo"}])
    fields = {e["field"] for e in info.value.errors}
    assert "instances[1].text" in fields and "instances[2].text" in fields
    assert "instances[0].text" not in fields


def test_threshold_rejects_low_confidence(intent_model):
    import numpy as np

    head = intent_model.head
    flat = np.full((1, len(head.labels)), 1.0 / len(head.labels))
    saved = head.threshold
    try:
        head.threshold = 0.5
        labels, confidence = head.decide(flat)
    finally:
        head.threshold = saved
    assert labels == [OUT_OF_SCOPE]
    assert confidence[0] == pytest.approx(1 - 1 / len(head.labels))
