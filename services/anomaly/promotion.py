"""The anomaly model's promotion gate (kit/gate.py; docs/gate.md).

The model is stateful: a transaction's score depends on its user's profile and its merchant's
confirmed frauds. So a set is a stream, replayed in time order, a day at a time, through each
version's own `AnomalyModel.predict` on fresh in-process profiles, with every fraud reported
through `record_feedback` seven days after it happened (as training's replay and the feedback
route do). Only the stream's last days are judged (`scored`); the days before build the
profiles. Criterion: average precision of the scores on the judged transactions.

Sets: `holdout`, the candidate's training stream with its test window judged
(`holdout.jsonl.gz`, written by train.py; a larger stream than `STREAM_CAP` keeps a seeded
sample of whole users), and `golden`, `golden/transactions.csv`: 60 users over 28 days made
once by `generate_transactions(n_users=60, n_merchants=300, days=28, seed=2028)`, a seed no
training run uses, its last 7 days judged (about 1,000 transactions, 17 of them fraud).
"""

from __future__ import annotations

import csv
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np

from kit.artifacts import Artifact
from kit.gate import (
    NO_HOLDOUT,
    Criterion,
    EvaluationSet,
    GateSpec,
    average_precision,
    holdout_source,
    read_holdout,
)
from kit.model import ServedModel
from services.anomaly.features import DAY, FRAUD_DELAY_DAYS
from services.anomaly.schema import Feedback

GOLDEN = Path(__file__).with_name("golden") / "transactions.csv"
GOLDEN_SCORED_DAYS = 7
HOLDOUT_FILE = "holdout.jsonl.gz"
STREAM_CAP = 150_000  # stream rows kept in an artifact (~10 s to replay per version)
FIELDS = ("tx_id", "user_id", "timestamp", "amount", "merchant", "category", "channel",
          "fraud")

CRITERIA = (Criterion("average_precision", "higher", tolerance=0.02,
                      title="average precision"),)
METRICS = {"average_precision": average_precision("score", "fraud")}


def stream_rows(df, scored: np.ndarray, cap: int = STREAM_CAP, seed: int = 0
                ) -> list[dict[str, Any]]:
    """A transaction frame (time order) as stream rows; beyond `cap` rows, a seeded sample of
    whole users (their every transaction, so their profiles stay whole)."""
    keep = np.ones(len(df), dtype=bool)
    if len(df) > cap:
        users = df["user_id"].astype(str)
        counts = users.value_counts(sort=False)
        order = np.random.default_rng(seed).permutation(len(counts))
        chosen = counts.index[order][np.cumsum(counts.to_numpy()[order]) <= cap]
        keep = users.isin(set(chosen)).to_numpy()
    frame = df.loc[keep, list(FIELDS)]
    frame = frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
                         scored=scored[keep])
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def golden_rows(path: Path = GOLDEN, scored_days: int = GOLDEN_SCORED_DAYS
                ) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [{**{k: row[k] or None for k in FIELDS}, "amount": float(row["amount"]),
                 "fraud": int(row["fraud"])} for row in csv.DictReader(fh)]
    days = sorted({r["timestamp"][:10] for r in rows})
    judged = set(days[-scored_days:])
    return [{**r, "scored": r["timestamp"][:10] in judged} for r in rows]


def _set(name: str, rows: list[dict[str, Any]], source: str) -> EvaluationSet:
    judged = [r["fraud"] for r in rows if r["scored"]]
    return EvaluationSet(name, rows, source, strata=judged, size=len(judged))


def evaluation_sets(candidate: Artifact) -> tuple[list[EvaluationSet], list[str]]:
    sets, notes = [], []
    holdout = read_holdout(candidate)
    if holdout:
        sets.append(_set("holdout", holdout, holdout_source(candidate) + ", test window judged"))
    elif candidate.manifest.get("evaluation", "").startswith("unsupervised"):
        notes.append("the candidate was trained without fraud labels (no labelled holdout): "
                     "judged on the golden set only")
    else:
        notes.append(NO_HOLDOUT)
    sets.append(_set("golden", golden_rows(), "services/anomaly/golden/transactions.csv, "
                     f"last {GOLDEN_SCORED_DAYS} days judged"))
    return sets, notes


def as_instance(row: dict[str, Any]) -> dict[str, Any]:
    """A stream row as the predict instance a caller would send."""
    transaction = {"timestamp": row["timestamp"], "amount": row["amount"],
                   "merchant": row["merchant"]}
    for key in ("category", "channel"):
        if row.get(key) is not None:
            transaction[key] = row[key]
    return {"user_id": str(row["user_id"]), "transaction_id": str(row["tx_id"]),
            "transaction": transaction}


def outcomes(model: ServedModel, eval_set: EvaluationSet) -> dict[str, np.ndarray]:
    scores, labels = [], []
    for _, day in groupby(eval_set.rows, key=lambda r: r["timestamp"][:10]):
        day = list(day)
        answers = model.predict([as_instance(r) for r in day])
        for row, answer in zip(day, answers, strict=True):
            if row["scored"]:
                scores.append(answer["score"])
                labels.append(row["fraud"])
        for row in day:
            if row["fraud"]:
                seen = model.profiles.transaction(str(row["tx_id"]))  # type: ignore[attr-defined]
                model.record_feedback(  # type: ignore[attr-defined]
                    Feedback(transaction_id=str(row["tx_id"]), label="fraud"),
                    now=seen["t"] + FRAUD_DELAY_DAYS * DAY)
    return {"score": np.array(scores, dtype=float), "fraud": np.array(labels, dtype=float)}


GATE = GateSpec(criteria=CRITERIA, metrics=METRICS, evaluation_sets=evaluation_sets,
                outcomes=outcomes)
