"""A user's training file, read with errors that name the line and the column: what every
model's own-data loader shares (the trainers print them; the trainer service answers 422)."""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_LISTED = 20  # problems named one by one; the rest are counted
HOLDOUT_PERCENT = 20


def in_holdout(text: str, percent: int = HOLDOUT_PERCENT) -> bool:
    """The split of a text-keyed dataset, fixed by a hash of the text: it never moves when rows
    are added elsewhere, and the same text always lands on the same side."""
    digest = hashlib.sha256(text.strip().lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


@dataclass(frozen=True)
class Problem:
    message: str
    line: int | None = None  # 1-based line of the file (a CSV's header is line 1)
    column: str | None = None

    def as_error(self) -> dict[str, object]:
        """The problem+json `errors` item: the field is `line 7, column text`."""
        where = ", ".join(part for part in (
            f"line {self.line}" if self.line is not None else "",
            f"column {self.column}" if self.column else "") if part)
        return {"field": where or "file", "message": self.message, "type": "data",
                "line": self.line, "column": self.column}


class DataError(ValueError):
    """The file cannot be trained on; `problems` says where and why, each one."""

    def __init__(self, path: Path | str, problems: Sequence[Problem]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        shown = [p.as_error() for p in self.problems[:MAX_LISTED]]
        lines = [f"  {e['field']}: {e['message']}" for e in shown]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  … and {len(self.problems) - MAX_LISTED} more")
        super().__init__(f"{self.path.name}: {len(self.problems)} problem(s)\n" + "\n".join(lines))


class Problems:
    """Collects problems while a loader reads, then raises them all at once."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.found: list[Problem] = []

    def add(self, message: str, line: int | None = None, column: str | None = None) -> None:
        self.found.append(Problem(message, line, column))

    def raise_any(self) -> None:
        if self.found:
            raise DataError(self.path, self.found)


def csv_rows(path: Path | str, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each data row of a UTF-8 CSV with a header; a missing required column,
    an empty file or bytes that are not UTF-8 are a DataError before any row."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(path, [Problem(f"cannot read the file: {exc.strerror}")]) from exc
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header:
                raise DataError(path, [Problem("the file is empty (no header line)", 1)])
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(path, [Problem(f"missing column (the header has "
                                               f"{', '.join(header)})", 1, c) for c in missing])
            for row in reader:
                yield reader.line_num, row
        except UnicodeDecodeError as exc:
            raise DataError(path, [Problem(f"not UTF-8 text ({exc.reason} at byte "
                                           f"{exc.start})")]) from exc
        except csv.Error as exc:
            raise DataError(path, [Problem(f"not a CSV file: {exc}")]) from exc


def plain_number(value: str) -> float | str:
    """A cell holding a plain decimal (`1234.50`), or what is wrong with it: the same words for
    every model's amounts."""
    if not value:
        return "empty amount"
    try:
        number = float(value)
    except ValueError:
        return f"{value!r} is not a number: write 1234.50 (no currency sign or thousands separator)"
    if not math.isfinite(number):
        return f"{value!r} is not a finite number"
    return number
