"""What "new data" means for credit: applications whose outcome arrived (a default or a repaid
loan, `POST /v1/models/credit/outcomes` with `label: true|false`), joined with the application
the log kept (credit logs its instances whole). Written as the own-data CSV the trainer's
`--data FILE --target defaulted` takes: the application's fields and a 0/1 `defaulted`.

With the original data: the shipped generated applications (what `finfleet train credit`
trains on), in the same columns, before the logged rows; a CSV with exactly these columns keeps
the served schema (services/credit/data.py), so the candidate takes the same requests.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from kit.retrain import LogDataError
from services.credit.data import GENERATED_FIELDS, generate_applications

TARGET = "defaulted"
DATA_SUFFIX = ".csv"
TRAINER_ARGS = ("--target", TARGET)
ORIGINAL_ROWS = 20_000  # the shipped model's own: generate_applications()'s default
ORIGINAL = f"the shipped generated applications ({ORIGINAL_ROWS:,} rows)"


def log_dataset(labelled: list[dict[str, Any]], out: Path, original: bool) -> int:
    """Write the CSV; returns its data rows. A record whose application lacks a column of the
    first one (a version with another schema served it) is left out."""
    columns = [f.name for f in GENERATED_FIELDS]
    applications = [r["input"] for r in labelled if isinstance(r.get("input"), dict)]
    if not applications:
        raise LogDataError("no labelled record holds an application")
    logged_columns = list(applications[0])
    if original and sorted(logged_columns) != sorted(columns):
        raise LogDataError(f"the served version takes {', '.join(logged_columns)}, not the "
                           "generated applications' fields: retrain it with --log-only")
    if not original:
        columns = logged_columns
    rows = []
    for record in labelled:
        instance = record.get("input")
        if isinstance(instance, dict) and all(c in instance for c in columns) \
                and isinstance(record.get("label"), bool):
            rows.append([*(instance[c] for c in columns), int(record["label"])])
    if not rows:
        raise LogDataError("no labelled record has a true/false outcome and every field")
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*columns, TARGET])
        count = 0
        if original:
            shipped = generate_applications(n=ORIGINAL_ROWS)
            for values, target in zip(shipped.frame[columns].itertuples(index=False),
                                      shipped.target, strict=True):
                writer.writerow([*values, int(target)])
                count += 1
        writer.writerows(rows)
    return count + len(rows)
