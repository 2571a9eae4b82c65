"""A user's own annotated sentences: JSONL, one `{"text": …, "entities": [[start, end, label],
…]}` per line (character offsets; `{"start", "end", "label"}` objects work too), for the
built-in labels and new ones. Every problem names its line and field."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from kit.datafiles import DataError, Problem, Problems, in_holdout
from services.ner.data import LABELS, Sentence
from services.ner.patterns import blank_pipeline

LABEL_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
# A new label needs this many sentences (and one on each side of the split) to be learnt and
# scored; built-in labels also learn from the generated data.
MIN_SENTENCES_PER_NEW_LABEL = 5
MAX_TEXT_LENGTH = 2000


def user_sentences(path: Path) -> tuple[list[Sentence], list[Sentence]]:
    """(train, holdout) from a JSONL file, split by a hash of each text."""
    problems = Problems(path)
    tokenizer = blank_pipeline()
    sentences: list[tuple[int, Sentence]] = []
    seen: set[str] = set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, [Problem(f"cannot read the file as UTF-8 text: {exc}")]) from exc
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        sentence = _sentence(raw, number, problems, tokenizer)
        if sentence is None:
            continue
        key = " ".join(sentence.text.lower().split())
        if key not in seen:
            seen.add(key)
            sentences.append((number, sentence))
    if not sentences and not problems.found:
        problems.add("no sentences in the file")
    train = [s for _, s in sentences if not in_holdout(s.text)]
    holdout = [s for _, s in sentences if in_holdout(s.text)]
    for label in sorted({e[2] for _, s in sentences for e in s.entities} - set(LABELS)):
        having = [n for n, s in sentences if any(e[2] == label for e in s.entities)]
        sides = {in_holdout(s.text) for _, s in sentences if any(e[2] == label for e in s.entities)}
        if len(having) < MIN_SENTENCES_PER_NEW_LABEL:
            problems.add(f"new label {label!r} is in {len(having)} sentence(s); at least "
                         f"{MIN_SENTENCES_PER_NEW_LABEL} are needed", having[0], "entities")
        elif sides != {True, False}:
            side = "the holdout" if True in sides else "training"
            problems.add(f"every sentence with {label!r} falls in {side}; add sentences",
                         having[0], "entities")
    problems.raise_any()
    return train, holdout


def new_labels(sentences: list[Sentence]) -> list[str]:
    return sorted({e[2] for s in sentences for e in s.entities} - set(LABELS))


def _sentence(raw: str, line: int, problems: Problems, tokenizer) -> Sentence | None:
    try:
        row = json.loads(raw)
    except ValueError as exc:
        problems.add(f"not JSON: {exc}", line)
        return None
    if not isinstance(row, dict):
        problems.add("each line must be a JSON object", line)
        return None
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.add("a non-empty string is needed", line, "text")
        return None
    if len(text) > MAX_TEXT_LENGTH:
        problems.add(f"{len(text)} characters; at most {MAX_TEXT_LENGTH}", line, "text")
        return None
    raw_entities = row.get("entities", [])
    if not isinstance(raw_entities, list):
        problems.add("a list of [start, end, label]", line, "entities")
        return None
    before = len(problems.found)
    doc = tokenizer.make_doc(text)
    entities: list[tuple[int, int, str]] = []
    for i, entity in enumerate(raw_entities):
        span = _span(entity)
        field = f"entities[{i}]"
        if span is None:
            problems.add("[start, end, label] with integer offsets", line, field)
            continue
        start, end, label = span
        if not 0 <= start < end <= len(text):
            problems.add(f"offsets {start}–{end} outside the text (length {len(text)})",
                         line, field)
        elif not LABEL_PATTERN.match(label):
            problems.add(f"label {label!r}: capitals, digits and _ only, at most 32", line,
                         field)
        elif doc.char_span(start, end) is None:
            problems.add(f"{text[start:end]!r} ({start}–{end}) does not start and end on word "
                         "edges", line, field)
        else:
            entities.append((start, end, label))
    entities.sort()
    for (s1, e1, l1), (s2, e2, l2) in itertools.pairwise(entities):
        if s2 < e1:
            problems.add(f"{l1} {s1}–{e1} and {l2} {s2}–{e2} overlap", line, "entities")
    if len(problems.found) > before:
        return None
    return Sentence(text, tuple(entities))


def _span(entity: Any) -> tuple[int, int, str] | None:
    if isinstance(entity, dict):
        entity = [entity.get("start"), entity.get("end"), entity.get("label")]
    if (isinstance(entity, list) and len(entity) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in entity[:2])
            and isinstance(entity[2], str)):
        return entity[0], entity[1], entity[2]
    return None


def check_user_data(path: Path, parameters: dict | None = None) -> None:
    """What the trainer service runs before it queues a job (a 422 instead of a failed job)."""
    user_sentences(path)
