"""The intent model's promotion gate (kit/gate.py; docs/gate.md).

Criteria: accuracy (the out-of-scope threshold applied, as served) and out-of-scope recall,
each on three sets:
- `holdout`: the candidate's holdout texts (`holdout.jsonl`, written by train.py);
- `golden`: `golden/queries.csv`, 170 hand-written queries (ten per intent, thirty out of
  scope) that appear nowhere in `queries/` — checked by the tests;
- `perturbed`: one seeded perturbation of every holdout and golden text (a typo, casing,
  spacing, or Hinglish spellings such as "kitna", "paisa", "bhejo"; `kit.gate.perturb_text`),
  the same on every run.
A candidate whose labels are not the shipped ones (a Banking77 benchmark head) skips the golden
set and its perturbations, with a note.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from kit.artifacts import Artifact
from kit.gate import (
    NO_HOLDOUT,
    Criterion,
    EvaluationSet,
    GateSpec,
    holdout_source,
    mean,
    mean_where,
    perturb_text,
    predict_all,
    read_holdout,
)
from kit.model import ServedModel
from services.intent.schema import OUT_OF_SCOPE

GOLDEN = Path(__file__).with_name("golden") / "queries.csv"

CRITERIA = (
    Criterion("accuracy", "higher", tolerance=0.01, title="accuracy"),
    Criterion("out_of_scope_recall", "higher", tolerance=0.03, title="out-of-scope recall"),
)
METRICS = {
    "accuracy": mean("correct"),
    "out_of_scope_recall": mean_where("flagged", "is_out_of_scope"),
}


def golden_rows(path: Path = GOLDEN) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [{"text": row["text"], "label": row["label"]} for row in csv.DictReader(fh)]


def perturbed_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        done = perturb_text(row["text"])
        if done is not None:
            out.append({"text": done[0], "label": row["label"], "perturbation": done[1],
                        "original": row["text"]})
    return out


def _set(name: str, rows: list[dict[str, Any]], source: str) -> EvaluationSet:
    return EvaluationSet(name, rows, source, strata=[r["label"] for r in rows])


def evaluation_sets(candidate: Artifact) -> tuple[list[EvaluationSet], list[str]]:
    sets, notes, base = [], [], []
    holdout = read_holdout(candidate)
    if holdout:
        sets.append(_set("holdout", holdout, holdout_source(candidate)))
        base += holdout
    else:
        notes.append(NO_HOLDOUT)
    golden = golden_rows()
    labels = set(candidate.manifest.get("labels", []))
    if {r["label"] for r in golden} <= labels:
        sets.append(_set("golden", golden, "services/intent/golden/queries.csv"))
        base += golden
    else:
        notes.append("golden: not judged; the candidate's labels are not the shipped intents")
    if base:
        sets.append(_set("perturbed", perturbed_rows(base),
                         "one seeded typo / casing / spacing / Hinglish perturbation of each "
                         "row above"))
    return sets, notes


def outcomes(model: ServedModel, eval_set: EvaluationSet) -> dict[str, np.ndarray]:
    # Texts of similar length share a batch's padding: small sorted batches encode fastest.
    order = np.argsort([len(r["text"]) for r in eval_set.rows], kind="stable")
    answers = predict_all(model, [{"text": eval_set.rows[i]["text"]} for i in order],
                          batch_size=16)
    predicted = np.empty(len(order), dtype=object)
    predicted[order] = [a["label"] for a in answers]
    truth = np.array([r["label"] for r in eval_set.rows])
    return {"correct": (predicted == truth).astype(float),
            "is_out_of_scope": (truth == OUT_OF_SCOPE).astype(float),
            "flagged": (predicted == OUT_OF_SCOPE).astype(float)}


GATE = GateSpec(criteria=CRITERIA, metrics=METRICS, evaluation_sets=evaluation_sets,
                outcomes=outcomes)
