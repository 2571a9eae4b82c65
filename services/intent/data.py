"""Training data: the queries the project ships (one file per label), a user's own `text,label`
CSV, and the Banking77 loader.

The shipped split is fixed by a hash of each text, so it never moves when queries are added
elsewhere and the same text always lands on the same side.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from kit.datafiles import Problems, csv_rows, in_holdout
from kit.settings import SHARED_DATA
from services.intent.schema import LABELS, OUT_OF_SCOPE

QUERIES_DIR = Path(__file__).resolve().parent / "queries"
BANKING77_DIR = SHARED_DATA / "banking77"


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: LabelledTexts
    holdout: LabelledTexts
    labels: tuple[str, ...]
    sha256: str


def read_queries(directory: Path = QUERIES_DIR) -> dict[str, list[str]]:
    """`<label>.txt` files, one query per line; every label of the contract must have a file."""
    out = {}
    for label in LABELS:
        lines = (directory / f"{label}.txt").read_text(encoding="utf-8").splitlines()
        out[label] = [line.strip() for line in lines if line.strip()]
    return out


def in_profile_half(text: str) -> bool:
    """Which half of the holdout the reference profile takes (another hash than `in_holdout`'s,
    so the halves split every label alike); the drift tests replay the other half."""
    digest = hashlib.sha256(b"profile:" + text.strip().lower().encode("utf-8")).digest()
    return digest[0] % 2 == 0


def _digest(rows: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for text, label in rows:
        h.update(f"{label}\t{text}\n".encode())
    return h.hexdigest()


def _split(rows: list[tuple[str, str]], holdout: bool) -> LabelledTexts:
    chosen = [(t, y) for t, y in rows if in_holdout(t) == holdout]
    return LabelledTexts([t for t, _ in chosen], [y for _, y in chosen])


def shipped_dataset(directory: Path = QUERIES_DIR) -> Dataset:
    rows = [(text, label) for label, texts in read_queries(directory).items() for text in texts]
    return Dataset("shipped", _split(rows, False), _split(rows, True), LABELS, _digest(rows))


def _read_csv(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(row["text"], row["category"]) for row in csv.DictReader(fh)]


def banking77_dataset(directory: Path = BANKING77_DIR) -> Dataset:
    """Banking77 (PolyAI): train.csv to train, test.csv as the holdout; no out-of-scope class."""
    if not (directory / "train.csv").is_file():
        raise FileNotFoundError(f"Banking77 not found at {directory} (train.csv, test.csv)")
    train, test = _read_csv(directory / "train.csv"), _read_csv(directory / "test.csv")
    labels = tuple(sorted({label for _, label in train}))
    as_texts = lambda rows: LabelledTexts([t for t, _ in rows], [y for _, y in rows])  # noqa: E731
    return Dataset("banking77", as_texts(train), as_texts(test), labels, _digest(train + test))


# A user's intents: `text,label` rows. Each label needs this many examples (and one on each
# side of the split), so the holdout can score it and the head can learn it.
MIN_EXAMPLES_PER_LABEL = 5
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def user_dataset(path: Path, max_text_length: int = 2000) -> Dataset:
    """A `text,label` CSV of the user's own intents (any label set; `out_of_scope` rows, when
    present, train the out-of-scope threshold). Split by a hash of each text, as the shipped
    queries are; every problem is a DataError naming its line and column."""
    problems = Problems(path)
    first_seen: dict[str, tuple[int, str]] = {}
    rows: list[tuple[str, str]] = []
    for line, row in csv_rows(path, ("text", "label")):
        text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
        before = len(problems.found)
        if not text:
            problems.add("empty text", line, "text")
        elif len(text) > max_text_length:
            problems.add(f"{len(text)} characters; at most {max_text_length}", line, "text")
        if not label:
            problems.add("empty label", line, "label")
        elif not LABEL_PATTERN.match(label):
            problems.add(f"label {label!r}: letters, digits and _.:- only, at most 64",
                         line, "label")
        if len(problems.found) > before:
            continue
        key = " ".join(text.lower().split())
        if key in first_seen:
            earlier, earlier_label = first_seen[key]
            if earlier_label != label:
                problems.add(f"the same text as line {earlier} with another label "
                             f"({earlier_label!r} there, {label!r} here)", line, "text")
            continue  # the same text twice trains nothing more, and would sit on one side
        first_seen[key] = (line, label)
        rows.append((text, label))
    train, holdout = _split(rows, False), _split(rows, True)
    labels = sorted({label for _, label in rows})
    if len(set(labels) - {OUT_OF_SCOPE}) < 2:
        problems.add(f"at least two labels are needed besides {OUT_OF_SCOPE}; found "
                     f"{', '.join(labels) or 'none'}", None, "label")
    for label in labels:
        count = sum(1 for _, y in rows if y == label)
        in_train = sum(1 for y in train.labels if y == label)
        if count < MIN_EXAMPLES_PER_LABEL:
            problems.add(f"label {label!r} has {count} example(s); at least "
                         f"{MIN_EXAMPLES_PER_LABEL} are needed", first_line(first_seen, label),
                         "label")
        elif in_train == 0:
            problems.add(f"every example of {label!r} falls in the holdout; add examples",
                         first_line(first_seen, label), "label")
        elif in_train == count:
            problems.add(f"no example of {label!r} falls in the holdout; add examples",
                         first_line(first_seen, label), "label")
    problems.raise_any()
    return Dataset(Path(path).name, train, holdout, tuple(labels), _digest(rows))


def first_line(seen: dict[str, tuple[int, str]], label: str) -> int | None:
    return next((line for line, y in seen.values() if y == label), None)


def check_user_data(path: Path, parameters: dict | None = None) -> None:
    """What the trainer service runs before it queues a job (a 422 instead of a failed job)."""
    user_dataset(path)
