"""Live quality: how well the served versions did on the predictions that got an outcome.

Pure functions over (prediction, label) pairs, one per kind of model; each `ServedModel` names
the ones that fit it in `live_quality`. The prediction log's background thread computes them
over a window of labelled predictions and exports `finfleet_live_quality{model,version,metric}`:
never on a request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

Pairs = Sequence[tuple[Any, Any]]


def auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """ROC AUC by ranks (ties share their mean rank); None without both classes."""
    n_pos = sum(1 for y in positives if y)
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, positives, strict=True) if y)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def average_precision(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Mean precision at each positive, highest score first (scikit-learn's definition, ties
    taken together); None without a positive."""
    n_pos = sum(1 for y in positives if y)
    if n_pos == 0:
        return None
    pairs = sorted(zip(scores, positives, strict=True), key=lambda p: -p[0])
    ap = hits = seen = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        new_hits = sum(1 for _, y in pairs[i:j] if y)
        hits += new_hits
        seen += j - i
        ap += (new_hits / n_pos) * (hits / seen)
        i = j
    return ap


def ranking(pairs: Pairs, score: Callable[[Any], float],
            positive: Callable[[Any], bool]) -> dict[str, float]:
    """AUC and AP of a score against a binary label."""
    scores = [float(score(p)) for p, _ in pairs]
    labels = [bool(positive(y)) for _, y in pairs]
    found = {"auc": auc(scores, labels), "average_precision": average_precision(scores, labels)}
    return {name: value for name, value in found.items() if value is not None}


def accuracy(pairs: Pairs, predicted: Callable[[Any], Any]) -> dict[str, float]:
    if not pairs:
        return {}
    return {"accuracy": sum(1 for p, y in pairs if predicted(p) == y) / len(pairs)}


def span_f1(pairs: Pairs, spans: Callable[[Any], Iterable[tuple]],
            true_spans: Callable[[Any], Iterable[tuple]]) -> dict[str, float]:
    """Micro precision, recall and F1 of exact spans over every labelled text."""
    tp = n_pred = n_true = 0
    for prediction, label in pairs:
        predicted, true = set(spans(prediction)), set(true_spans(label))
        tp += len(predicted & true)
        n_pred += len(predicted)
        n_true += len(true)
    if not pairs:
        return {}
    precision = tp / n_pred if n_pred else (1.0 if not n_true else 0.0)
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"span_precision": precision, "span_recall": recall, "span_f1": f1}


def relative_error(pairs: Pairs, forecast: Callable[[Any, Any], float | None],
                   actual: Callable[[Any], float]) -> dict[str, float]:
    """Mean |forecast − actual| / |actual| over the pairs the forecast covers (a zero actual
    counts its absolute error against 1)."""
    errors = []
    for prediction, label in pairs:
        predicted = forecast(prediction, label)
        if predicted is not None:
            truth = float(actual(label))
            errors.append(abs(predicted - truth) / max(abs(truth), 1.0))
    return {"relative_error": sum(errors) / len(errors)} if errors else {}
