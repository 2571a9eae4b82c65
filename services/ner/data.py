"""Annotated sentences: the type, the markup of the hand-written evaluation set, and FIRE.

The generated training data lives in `generator.py` (chat) and `formal.py` (report prose).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kit.settings import SHARED_DATA

EVAL_SET = Path(__file__).with_name("eval_set.txt")
FIRE_DEV = SHARED_DATA / "fire" / "fire_dev.json"
FIRE_LABELS = {"Money": "MONEY", "Date": "DATE"}
LABELS = ("MONEY", "DATE", "CATEGORY", "MERCHANT", "ACCOUNT")


@dataclass(frozen=True)
class Sentence:
    """A text and its entities as (start, end, label) character spans."""

    text: str
    entities: tuple[tuple[int, int, str], ...]


Piece = tuple[str, str | None]


def assemble(pieces: Iterable[Piece]) -> Sentence:
    """Join (text, label-or-None) pieces into a text with character spans for labelled ones."""
    text, entities = "", []
    for piece, label in pieces:
        if label and piece:
            entities.append((len(text), len(text) + len(piece), label))
        text += piece
    return Sentence(text, tuple(entities))


SLOT = re.compile(r"\{(\w+)\}")
Slot = Callable[[random.Random], list[Piece]]


def fill_template(template: str, slots: dict[str, Slot], rng: random.Random) -> Sentence:
    """'Paid {m} at {s}' → a Sentence, each {name} replaced by the pieces its slot draws."""
    pieces: list[Piece] = []
    pos = 0
    for match in SLOT.finditer(template):
        pieces.append((template[pos:match.start()], None))
        pieces.extend(slots[match[1]](rng))
        pos = match.end()
    pieces.append((template[pos:], None))
    return assemble(pieces)


MARKUP = re.compile(r"\[([^\]]+)\]\((MONEY|DATE|CATEGORY|MERCHANT|ACCOUNT)\)")


def parse_markup(line: str) -> Sentence:
    """'Paid [₹500](MONEY) at [DMart](MERCHANT)' → text and character spans."""
    text, entities, pos = "", [], 0
    for match in MARKUP.finditer(line):
        text += line[pos:match.start()]
        entities.append((len(text), len(text) + len(match[1]), match[2]))
        text += match[1]
        pos = match.end()
    return Sentence(text + line[pos:], tuple(entities))


def load_eval_set(path: Path = EVAL_SET) -> list[Sentence]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [parse_markup(line) for line in lines if line.strip() and not line.startswith("#")]


def load_fire(path: Path = FIRE_DEV) -> list[Sentence]:
    """FIRE dev sentences (tokens joined by spaces) with Money → MONEY and Date → DATE only."""
    sentences = []
    for row in json.loads(path.read_text(encoding="utf-8")):
        tokens = row["tokens"]
        starts, offset = [], 0
        for token in tokens:
            starts.append(offset)
            offset += len(token) + 1
        entities = tuple(
            (starts[e["start"]], starts[e["end"] - 1] + len(tokens[e["end"] - 1]),
             FIRE_LABELS[e["type"]])
            for e in row["entities"] if e["type"] in FIRE_LABELS
        )
        sentences.append(Sentence(" ".join(tokens), entities))
    return sentences
