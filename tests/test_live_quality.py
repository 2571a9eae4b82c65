"""Every model's outcome contract: the label each accepts on POST /v1/models/<name>/outcomes,
and the live quality it computes from (logged prediction, label) pairs."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from services.anomaly.model import AnomalyModel
from services.credit.model import CreditModel
from services.intent.model import IntentModel
from services.ner.model import NerModel
from services.spending.model import SpendingModel

CASES = [
    (CreditModel, [({"probability_of_default": 0.9}, True),
                   ({"probability_of_default": 0.2}, False),
                   ({"probability_of_default": 0.4}, True)],
     {"auc": 1.0, "average_precision": 1.0}, "maybe"),
    (AnomalyModel, [({"score": 0.7}, "fraud"), ({"score": 0.8}, "genuine"),
                    ({"score": 0.4}, "genuine")], {"auc": 0.5, "average_precision": 0.5}, True),
    (IntentModel, [({"label": "check_balance"}, "check_balance"),
                   ({"label": "greeting"}, "bill_payment")], {"accuracy": 0.5}, "not an intent!"),
    (NerModel, [({"entities": [{"start": 5, "end": 11, "label": "MONEY"},
                               {"start": 15, "end": 21, "label": "MERCHANT"}]},
                 [{"start": 5, "end": 11, "label": "MONEY"}])],
     {"span_precision": 0.5, "span_recall": 1.0, "span_f1": pytest.approx(2 / 3)},
     [{"start": 0, "end": 3, "label": "person name"}]),
    (SpendingModel, [({"forecast": [{"month": "2026-11", "yhat": 45000.0}]},
                      {"month": "2026-11", "amount": 50000.0})],
     {"relative_error": pytest.approx(0.1)}, {"month": "2026-13", "amount": 1.0}),
]


@pytest.mark.parametrize(("model", "pairs", "expected", "bad_label"), CASES,
                         ids=[c[0].name for c in CASES])
def test_labels_validate_and_live_quality_is_computed(model, pairs, expected, bad_label):
    adapter = TypeAdapter(model.outcome_label)
    for _, label in pairs:
        adapter.validate_python(label)
    with pytest.raises(ValidationError):
        adapter.validate_python(bad_label)
    assert model.live_quality(pairs) == expected
