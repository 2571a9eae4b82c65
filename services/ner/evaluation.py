"""Exact-span and overlap precision/recall/F1 per label, and micro over the labels asked for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spacy.language import Language

from services.ner.data import Sentence

Span = tuple[int, int, str]


def _prf(tp_pred: int, tp_gold: int, n_pred: int, n_gold: int) -> dict[str, float]:
    precision = tp_pred / n_pred if n_pred else 0.0
    recall = tp_gold / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "support": n_gold}


def _overlaps(a: Span, b: Span) -> bool:
    return a[2] == b[2] and a[0] < b[1] and b[0] < a[1]


def score_spans(
    gold: Sequence[Iterable[Span]], predicted: Sequence[Iterable[Span]], labels: Sequence[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """{"exact"|"overlap": {label|"micro": {precision, recall, f1, support}}}."""
    counts = {kind: {label: [0, 0, 0, 0] for label in labels} for kind in ("exact", "overlap")}
    for gold_spans, pred_spans in zip(gold, predicted, strict=True):
        g = [s for s in gold_spans if s[2] in labels]
        p = [s for s in pred_spans if s[2] in labels]
        for label in labels:
            gl, pl = [s for s in g if s[2] == label], [s for s in p if s[2] == label]
            exact = len(set(gl) & set(pl))
            for kind, tp_pred, tp_gold in (
                ("exact", exact, exact),
                ("overlap", sum(any(_overlaps(x, y) for y in gl) for x in pl),
                 sum(any(_overlaps(y, x) for x in pl) for y in gl)),
            ):
                c = counts[kind][label]
                c[0] += tp_pred
                c[1] += tp_gold
                c[2] += len(pl)
                c[3] += len(gl)
    result = {}
    for kind, per_label in counts.items():
        result[kind] = {label: _prf(*c) for label, c in per_label.items()}
        result[kind]["micro"] = _prf(*[sum(c[i] for c in per_label.values()) for i in range(4)])
    return result


def evaluate(
    nlp: Language, sentences: Sequence[Sentence], labels: Sequence[str], batch_size: int = 64
) -> dict[str, dict[str, dict[str, float]]]:
    docs = nlp.pipe((s.text for s in sentences), batch_size=batch_size)
    predicted = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs]
    return score_spans([s.entities for s in sentences], predicted, labels)
