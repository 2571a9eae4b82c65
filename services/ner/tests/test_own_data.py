"""A user's own annotated sentences (JSONL): read, split by text, every problem named by its
line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.datafiles import DataError
from services.ner.own_data import new_labels, user_sentences

OWN = Path(__file__).parent / "data" / "own_sentences.jsonl"


def problems(tmp_path: Path, lines: list[str]) -> dict[tuple, str]:
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        user_sentences(path)
    return {(p.line, p.column): p.message for p in caught.value.problems}


def test_the_shipped_example_reads_with_its_new_label_on_both_sides():
    train, holdout = user_sentences(OWN)
    assert (len(train), len(holdout)) == (31, 9)
    assert new_labels(train) == new_labels(holdout) == ["UPI_ID"]
    first = train[0]
    assert first.text[first.entities[0][0]:first.entities[0][1]] == "₹2550"


def test_each_problem_names_its_line_and_field(tmp_path):
    text = "send ₹500 to rahul@ybl"
    found = problems(tmp_path, [
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"text": ""}),
        json.dumps({"text": text, "entities": [[5, 9, "MONEY"], [13, 99, "UPI_ID"]]}),
        json.dumps({"text": text, "entities": [[5, 7, "MONEY"]]}),
        json.dumps({"text": text, "entities": [[5, 9, "money"]]}),
        json.dumps({"text": text, "entities": [[5, 9, "MONEY"], [6, 12, "UPI_ID"]]}),
        json.dumps({"text": text, "entities": [{"start": "5", "end": 9, "label": "MONEY"}]}),
    ])
    assert found[(1, None)].startswith("not JSON")
    assert found[(2, None)] == "each line must be a JSON object"
    assert found[(3, "text")] == "a non-empty string is needed"
    assert "outside the text" in found[(4, "entities[1]")]
    assert "word edges" in found[(5, "entities[0]")]
    assert "capitals" in found[(6, "entities[0]")]
    assert "overlap" in found[(7, "entities")]
    assert "integer offsets" in found[(8, "entities[0]")]


def test_a_new_label_needs_sentences_on_both_sides(tmp_path):
    def line(n: int) -> str:
        head, upi = f"pay {n} rupees to ", f"user{n}@ybl"
        return json.dumps({"text": head + upi,
                           "entities": [[len(head), len(head) + len(upi), "UPI_ID"]]})

    lines = [line(n) for n in range(3)]
    found = problems(tmp_path, lines)
    assert "new label 'UPI_ID' is in 3 sentence(s)" in next(iter(found.values()))
