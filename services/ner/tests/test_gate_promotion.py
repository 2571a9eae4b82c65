"""The promotion gate on the NER model: perturbations keep every entity span, and a model
passes against itself on the holdout, the hand-written set and their perturbations."""

from __future__ import annotations

from kit.gate import evaluate_release, read_holdout
from services.ner.data import load_eval_set
from services.ner.promotion import as_row, perturbed_row


def test_perturbed_sentences_keep_their_entities():
    rows = [as_row(s) for s in load_eval_set()]
    perturbed = [perturbed_row(r) for r in rows]
    assert perturbed == [perturbed_row(r) for r in rows]
    for row, p in zip(rows, perturbed, strict=True):
        assert p is not None and p["text"] != row["text"]
        before = [(row["text"][a:b], label) for a, b, label in sorted(row["entities"])]
        after = [(p["text"][a:b], label) for a, b, label in p["entities"]]
        if p["perturbation"] == "case":
            before = [(t.lower(), label) for t, label in before]
            after = [(t.lower(), label) for t, label in after]
        assert after == before, (row["text"], p["text"])


def test_a_model_passes_against_itself(trained):
    holdout = read_holdout(trained)
    assert holdout and set(holdout[0]) == {"text", "entities"}
    result = evaluate_release("ner", trained, trained)
    assert result.passed, result.table()
    assert [(r.set, r.metric) for r in result.rows] == [
        ("holdout", "micro_f1"), ("golden", "micro_f1"), ("perturbed", "micro_f1")]
    golden = result.rows[1]
    assert golden.candidate > 0.5 and golden.difference == 0
