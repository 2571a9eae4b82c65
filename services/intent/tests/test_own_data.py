"""A user's own intents (`text,label` CSV): read, split like the shipped queries, and every
problem named by its line and column."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kit.datafiles import DataError
from services.intent.data import MIN_EXAMPLES_PER_LABEL, in_holdout, user_dataset

OWN = Path(__file__).parent / "data" / "own_intents.csv"


def write(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def problems(path: Path) -> list[dict]:
    with pytest.raises(DataError) as caught:
        user_dataset(path)
    return [p.as_error() for p in caught.value.problems]


def texts(label: str, n: int, holdout: bool | None = None) -> list[tuple[str, str]]:
    """n distinct texts for `label`, all on one side of the split when `holdout` is given."""
    out, i = [], 0
    while len(out) < n:
        text = f"{label} request number {i}"
        if holdout is None or in_holdout(text) == holdout:
            out.append((text, label))
        i += 1
    return out


def test_the_shipped_example_reads_with_its_labels_on_both_sides():
    dataset = user_dataset(OWN)
    assert dataset.labels == ("dispute_charge", "freeze_card", "out_of_scope", "prepay_loan")
    assert set(dataset.train.labels) == set(dataset.holdout.labels) == set(dataset.labels)
    assert len(dataset.train) + len(dataset.holdout) == 48
    assert dataset.name == "own_intents.csv" and len(dataset.sha256) == 64


def test_a_missing_column_is_named_on_the_header_line(tmp_path):
    found = problems(write(tmp_path / "x.csv", [("hi", "greet")], header=("text", "intent")))
    assert found == [{"field": "line 1, column label", "line": 1, "column": "label",
                      "type": "data", "message": found[0]["message"]}]
    assert "text, intent" in found[0]["message"]


def test_empty_cells_bad_labels_and_conflicting_duplicates_name_line_and_column(tmp_path):
    rows = [*texts("a", 5), *texts("b", 5), ("", "a"), ("lonely text", ""),
            ("what is this", "bad label!"), ("A request NUMBER 0", "b")]
    found = {(p["line"], p["column"]): p["message"] for p in problems(
        write(tmp_path / "x.csv", rows))}
    assert found[(12, "text")] == "empty text"
    assert found[(13, "label")] == "empty label"
    assert "letters, digits" in found[(14, "label")]
    assert "line 2" in found[(15, "text")] and "'a' there, 'b' here" in found[(15, "text")]


def test_too_few_examples_and_labels_on_one_side_only(tmp_path):
    rows = [*texts("a", 6), *texts("b", MIN_EXAMPLES_PER_LABEL - 1),
            *texts("c", 6, holdout=True), *texts("d", 6, holdout=False)]
    found = {p["message"].split(";")[0]: p for p in problems(write(tmp_path / "x.csv", rows))}
    assert "label 'b' has 4 example(s)" in found
    assert found["every example of 'c' falls in the holdout"]["column"] == "label"
    assert "no example of 'd' falls in the holdout" in found


def test_one_label_is_not_a_classifier_and_exact_duplicates_are_dropped(tmp_path):
    with pytest.raises(DataError, match="at least two labels"):
        user_dataset(write(tmp_path / "x.csv", texts("a", 8) + texts("out_of_scope", 8)))
    rows = [*texts("a", 2, True), *texts("a", 4, False), *texts("b", 2, True),
            *texts("b", 4, False)]
    dataset = user_dataset(write(tmp_path / "y.csv", rows + rows[:3]))
    assert (len(dataset.train), len(dataset.holdout)) == (8, 4)
