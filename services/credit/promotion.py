"""The credit model's promotion gate (kit/gate.py; docs/gate.md).

Criteria: AUC (ranking), Brier (calibrated probabilities) and, for each sensitive attribute the
rows carry, the approval-rate ratio of the training report (lowest group approval rate over the
highest, groups of at least 10; approval = any band below `high`, the model's own threshold):
it fails when it falls below 0.8 (the four-fifths rule) or worsens by more than 0.05.

Sets: the candidate's holdout (`holdout.jsonl`, written by train.py) and the golden set
`golden/applications.csv`: 2,000 generated applications with their outcome, made once by
`generate_applications(n=2000, seed=2026)` (a seed no training run uses) and never changed.
It is larger than the other models' golden sets because credit outcomes are coin flips
weighted by risk: on 400 rows a model trained on 500 applications (Brier 0.0782 against
production's 0.0724 on 20,000 fresh rows) was inside the noise; on 2,000 it is refused
(docs/gate.md). A candidate trained on another schema (German Credit, a CSV) cannot score the
golden rows: that set is then skipped with a note.
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
    auc,
    holdout_source,
    mean,
    predict_all,
    rate_ratio,
    read_holdout,
)
from kit.model import ServedModel
from services.credit.evaluation import age_groups

GOLDEN = Path(__file__).with_name("golden") / "applications.csv"
TARGET = "defaulted"
SENSITIVE = ("age", "sex")
MIN_GROUP = 10  # as the training report's fairness table

CRITERIA = (
    Criterion("auc", "higher", tolerance=0.02, title="AUC"),
    Criterion("brier", "lower", tolerance=0.002, title="Brier"),
    *(Criterion(f"approval_ratio_{attr}", "higher", tolerance=0.05, floor=0.8,
                title=f"approval-rate ratio ({attr})") for attr in SENSITIVE),
)
METRICS = {
    "auc": auc("probability", "label"),
    "brier": mean("squared_error"),
    **{f"approval_ratio_{attr}": rate_ratio("approved", f"group_{attr}", MIN_GROUP)
       for attr in SENSITIVE},
}


def _number(text: str) -> float | int | str:
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def golden_rows(path: Path = GOLDEN) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        instance = {k: _number(v) for k, v in row.items() if k != TARGET}
        out.append({"instance": instance, TARGET: int(row[TARGET]),
                    "sensitive": {"age": instance["age"]}})
    return out


def holdout_rows(frame, target: np.ndarray, sensitive: dict[str, np.ndarray],
                 idx: np.ndarray) -> list[dict[str, Any]]:
    """The training split's holdout rows as train.py writes them: the application as a
    request sends it, the outcome, and the sensitive attributes (which may not be features)."""
    records = frame.iloc[idx].to_dict("records")
    return [{"instance": rec, TARGET: int(target[i]),
             "sensitive": {attr: values[i] for attr, values in sensitive.items()}}
            for rec, i in zip(records, idx, strict=True)]


def evaluation_sets(candidate: Artifact) -> tuple[list[EvaluationSet], list[str]]:
    sets, notes = [], []
    holdout = read_holdout(candidate)
    if holdout:
        sets.append(EvaluationSet("holdout", holdout, holdout_source(candidate),
                                  strata=[r[TARGET] for r in holdout]))
    else:
        notes.append(NO_HOLDOUT)
    golden = golden_rows()
    sets.append(EvaluationSet("golden", golden, "services/credit/golden/applications.csv",
                              strata=[r[TARGET] for r in golden]))
    return sets, notes


def _groups(attr: str, values: list[Any]) -> np.ndarray:
    array = np.asarray(values)
    return age_groups(array.astype(float)) if attr == "age" else array.astype(str)


def outcomes(model: ServedModel, eval_set: EvaluationSet) -> dict[str, np.ndarray]:
    rows = eval_set.rows
    predictions = predict_all(model, [r["instance"] for r in rows], batch_size=512)
    p = np.array([a["probability_of_default"] for a in predictions])
    y = np.array([r[TARGET] for r in rows], dtype=float)
    out = {"probability": p, "label": y, "squared_error": (p - y) ** 2,
           "approved": np.array([a["band"] != "high" for a in predictions], dtype=float)}
    for attr in SENSITIVE:
        values = [r["sensitive"].get(attr) for r in rows]
        if all(v is not None for v in values):
            out[f"group_{attr}"] = _groups(attr, values)
    return out


GATE = GateSpec(criteria=CRITERIA, metrics=METRICS, evaluation_sets=evaluation_sets,
                outcomes=outcomes)
