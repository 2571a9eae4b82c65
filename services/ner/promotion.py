"""The NER model's promotion gate (kit/gate.py; docs/gate.md).

Criterion: exact-span micro F1 over the five labels (as `evaluation.score_spans` computes it),
from per-sentence true positive, false positive and false negative counts, on three sets:
- `holdout`: the candidate's generated holdout sentences (`holdout.jsonl`, written by train.py);
- `golden`: the hand-written `eval_set.txt` (never produced by the generator, never trained
  on), the set the training report already scores;
- `perturbed`: one seeded perturbation of every holdout and golden sentence (a typo, casing,
  spacing or Hinglish spellings; `kit.gate.perturb_pieces`). Entity spans change only in
  casing, and their offsets are recomputed, so every label still holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kit.artifacts import Artifact
from kit.gate import (
    NO_HOLDOUT,
    Criterion,
    EvaluationSet,
    GateSpec,
    holdout_source,
    micro_f1,
    perturb_pieces,
    predict_all,
    read_holdout,
)
from kit.model import ServedModel
from services.ner.data import LABELS, Sentence, load_eval_set

# Relative dates resolve against this day, so a run's answers never depend on the calendar
# (spans, which the gate scores, never do anyway).
REFERENCE_DATE = "2026-01-15"

CRITERIA = (Criterion("micro_f1", "higher", tolerance=0.01, title="micro F1 (exact spans)"),)
METRICS = {"micro_f1": micro_f1("tp", "fp", "fn")}


def as_row(sentence: Sentence) -> dict[str, Any]:
    return {"text": sentence.text, "entities": [list(e) for e in sentence.entities]}


def pieces_of(row: dict[str, Any]) -> list[tuple[str, bool]]:
    """The text cut at entity edges: (text, is_entity), in order."""
    text, pieces, at = row["text"], [], 0
    for start, end, _ in sorted(row["entities"]):
        pieces += [(text[at:start], False), (text[start:end], True)]
        at = end
    return [*pieces, (text[at:], False)]


def perturbed_row(row: dict[str, Any]) -> dict[str, Any] | None:
    done = perturb_pieces(pieces_of(row), row["text"])
    if done is None:
        return None
    texts, kind = done
    labels = iter(label for _, _, label in sorted(row["entities"]))
    text, entities = "", []
    for piece, (_, is_entity) in zip(texts, pieces_of(row), strict=True):
        if is_entity:
            entities.append([len(text), len(text) + len(piece), next(labels)])
        text += piece
    return {"text": text, "entities": entities, "perturbation": kind, "original": row["text"]}


def evaluation_sets(candidate: Artifact) -> tuple[list[EvaluationSet], list[str]]:
    sets, notes = [], []
    holdout = read_holdout(candidate)
    if holdout:
        sets.append(EvaluationSet("holdout", holdout, holdout_source(candidate)))
    else:
        notes.append(NO_HOLDOUT)
        holdout = []
    golden = [as_row(s) for s in load_eval_set()]
    sets.append(EvaluationSet("golden", golden, "services/ner/eval_set.txt"))
    perturbed = [p for p in map(perturbed_row, holdout + golden) if p is not None]
    sets.append(EvaluationSet("perturbed", perturbed, "one seeded typo / casing / spacing / "
                              "Hinglish perturbation of each row above"))
    return sets, notes


def outcomes(model: ServedModel, eval_set: EvaluationSet) -> dict[str, np.ndarray]:
    answers = predict_all(model, [{"text": r["text"], "reference_date": REFERENCE_DATE}
                                  for r in eval_set.rows], batch_size=256)
    counts = []
    for row, answer in zip(eval_set.rows, answers, strict=True):
        gold = {tuple(e) for e in row["entities"] if e[2] in LABELS}
        found = {(e["start"], e["end"], e["label"]) for e in answer["entities"]
                 if e["label"] in LABELS}
        hit = len(gold & found)
        counts.append((hit, len(found) - hit, len(gold) - hit))
    tp, fp, fn = np.array(counts, dtype=float).reshape(-1, 3).T
    return {"tp": tp, "fp": fp, "fn": fn}


GATE = GateSpec(criteria=CRITERIA, metrics=METRICS, evaluation_sets=evaluation_sets,
                outcomes=outcomes)
