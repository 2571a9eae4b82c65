"""Training data: the queries the project ships (one file per label) and the Banking77 loader.

The shipped split is fixed by a hash of each text, so it never moves when queries are added
elsewhere and the same text always lands on the same side.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from kit.settings import SHARED_DATA
from services.intent.schema import LABELS

QUERIES_DIR = Path(__file__).resolve().parent / "queries"
BANKING77_DIR = SHARED_DATA / "banking77"
HOLDOUT_PERCENT = 20


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


def in_holdout(text: str) -> bool:
    digest = hashlib.sha256(text.strip().lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT


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
