"""intent's retraining file: corrected labels of logged texts, in the own-data CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kit.retrain import LogDataError
from services.intent import retrain_data
from services.intent.data import read_queries, user_dataset


def record(text, label: str, at: float) -> dict:
    return {"model": "intent", "served_by": "production", "input": {"text": text},
            "output": {"label": "check_balance"}, "label": label, "labelled_at": at}


def rows(path: Path) -> list[tuple[str, str]]:
    return [(r["text"], r["label"]) for r in csv.DictReader(path.open(encoding="utf-8"))]


def test_corrections_replace_the_shipped_label_and_the_newest_wins(tmp_path: Path) -> None:
    queries = read_queries()
    shipped_text = queries["check_balance"][0]
    labelled = [
        record(shipped_text.upper(), "credit_score", 2.0),  # same text, other case
        record("freeze the card i lost", "out_of_scope", 1.0),
        record("freeze the card  I lost", "fraud_report", 3.0),  # corrected again, later
        record({"chars": 20, "words": 4, "digits": 0, "sha256": "ab"}, "fraud_report", 4.0),
    ]
    out = tmp_path / "log.csv"
    total = sum(len(t) for t in queries.values())
    assert retrain_data.log_dataset(labelled, out, original=True) == total + 1
    written = rows(out)
    assert sorted(written[:2]) == [(shipped_text.upper(), "credit_score"),
                                   ("freeze the card  I lost", "fraud_report")]
    assert (shipped_text, "check_balance") not in written, "the correction replaced it"
    user_dataset(out)  # the own-data check accepts the file


def test_log_only_keeps_just_the_corrections(tmp_path: Path) -> None:
    out = tmp_path / "log.csv"
    labelled = [record(f"query number {i}", "check_balance", i) for i in range(3)]
    assert retrain_data.log_dataset(labelled, out, original=False) == 3
    assert rows(out)[0] == ("query number 0", "check_balance")


def test_texts_the_log_only_summarised_cannot_train(tmp_path: Path) -> None:
    summary = {"chars": 9, "words": 2, "digits": 0, "sha256": "ab"}
    with pytest.raises(LogDataError, match="INTENT_LOG_INPUTS=true"):
        retrain_data.log_dataset([record(summary, "check_balance", 1.0)], tmp_path / "x.csv",
                                 original=True)
