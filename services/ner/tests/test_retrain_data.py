"""NER's retraining file: corrected spans of logged texts, in the own-data JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.retrain import LogDataError
from services.ner import retrain_data
from services.ner.own_data import user_sentences


def record(text, spans: list[dict], at: float) -> dict:
    return {"model": "ner", "served_by": "production", "input": {"text": text},
            "output": {"entities": []}, "label": spans, "labelled_at": at}


def span(start: int, end: int, label: str) -> dict:
    return {"start": start, "end": end, "label": label}


def test_corrected_spans_become_own_data_lines(tmp_path: Path) -> None:
    text = "paid ₹450 to Zomato yesterday"
    labelled = [
        record(text, [span(5, 9, "MONEY")], 1.0),
        record(text, [span(5, 9, "MONEY"), span(13, 19, "MERCHANT")], 2.0),  # newer: wins
        record("sent 50 to ravi", [span(5, 6, "MONEY")], 3.0),  # off a word edge: left out
        record({"chars": 5, "words": 1, "digits": 0, "sha256": "ab"}, [], 4.0),
    ]
    out = tmp_path / "log.jsonl"
    assert retrain_data.log_dataset(labelled, out, original=True) == 1
    assert json.loads(out.read_text()) == {
        "text": text, "entities": [[5, 9, "MONEY"], [13, 19, "MERCHANT"]]}
    train, holdout = user_sentences(out)  # the own-data check accepts it
    assert len(train) + len(holdout) == 1


def test_no_usable_correction_is_a_clear_error(tmp_path: Path) -> None:
    summary = {"chars": 5, "words": 1, "digits": 0, "sha256": "ab"}
    with pytest.raises(LogDataError, match="NER_LOG_INPUTS=true"):
        retrain_data.log_dataset([record(summary, [], 1.0)], tmp_path / "x.jsonl", False)
    with pytest.raises(LogDataError, match="own-data check"):
        retrain_data.log_dataset([record("sent 50 to ravi", [span(5, 6, "MONEY")], 1.0)],
                                 tmp_path / "x.jsonl", False)
