"""The promotion gate on the intent model: its golden set is apart from the training queries,
the perturbed set is seeded, and a model passes against itself on all three sets."""

from __future__ import annotations

from collections import Counter

from kit.gate import evaluate_release, read_holdout
from services.intent.data import read_queries
from services.intent.promotion import golden_rows, perturbed_rows
from services.intent.schema import LABELS, OUT_OF_SCOPE


def test_golden_queries_cover_every_label_and_are_never_trained_on():
    rows = golden_rows()
    counts = Counter(r["label"] for r in rows)
    assert set(counts) == set(LABELS) and min(counts.values()) >= 10
    assert counts[OUT_OF_SCOPE] >= 30
    trained = {t.strip().lower() for texts in read_queries().values() for t in texts}
    assert not [r["text"] for r in rows if r["text"].strip().lower() in trained]
    assert len({r["text"].lower() for r in rows}) == len(rows)


def test_perturbations_are_seeded_and_include_hinglish():
    rows = golden_rows()
    first, again = perturbed_rows(rows), perturbed_rows(rows)
    assert first == again and len(first) == len(rows)
    assert all(p["text"] != p["original"] and p["label"] == r["label"]
               for p, r in zip(first, rows, strict=True))
    assert set(Counter(p["perturbation"] for p in first)) == {"typo", "case", "spacing",
                                                              "hinglish"}
    assert any("kitna" in p["text"] or "paisa" in p["text"] for p in first)


def test_a_model_passes_against_itself(artifact):
    holdout = read_holdout(artifact)
    assert holdout and set(holdout[0]) == {"text", "label"}
    result = evaluate_release("intent", artifact, artifact)
    assert result.passed, result.table()
    assert {s["name"]: s["rows"] for s in result.sets} == {
        "holdout": len(holdout), "golden": 170, "perturbed": len(holdout) + 170}
    judged = {(r.set, r.metric) for r in result.rows}
    assert judged == {(s, m) for s in ("holdout", "golden", "perturbed")
                      for m in ("accuracy", "out_of_scope_recall")}
    golden = next(r for r in result.rows if (r.set, r.metric) == ("golden", "accuracy"))
    assert golden.candidate > 0.7  # the hand-written queries are answerable
