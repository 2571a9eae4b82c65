"""Retraining data from what was served: the prediction log's transactions with a confirmed
outcome (fraud or genuine feedback) as an own-data CSV (docs/own-data.md), optionally after the
generated training set.

"New data" for anomaly is confirmed fraud: only transactions someone labelled count, since an
unlabelled one says nothing about fraud. Their users' profiles are rebuilt from these
transactions alone (the log keeps no unlabelled ones here), so users with fewer than
MIN_HISTORY labelled transactions are left out, as the own-data check requires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from services.anomaly.data import COLUMNS, generate_transactions
from services.anomaly.features import MIN_HISTORY
from services.anomaly.own_data import parse_time, write_transactions

LABELS = {"fraud": 1, "genuine": 0}
GENERATED_DAYS = 45  # the default model's data: generate_transactions()'s 600 users, 45 days


def log_dataset(labelled: list[dict[str, Any]], out: Path, original: bool) -> int:
    """Write the labelled transactions of `labelled` (rows of `LogStore.labelled("anomaly")`) to
    `out` in the own-data format; with `original`, the generated training set first, shifted
    to end a day before the first logged transaction so the training windows run over one
    stream. Returns the rows written."""
    frame = logged_transactions(labelled)
    if original:
        # A day apart: a takeover burst at the end of the generated days runs past midnight.
        start = (frame["timestamp"].min().normalize() - pd.Timedelta(days=GENERATED_DAYS + 1)
                 if len(frame) else pd.Timestamp("2024-01-01"))
        generated = generate_transactions(days=GENERATED_DAYS, start=str(start.date()))
        generated["tx_id"] = "generated:" + generated["tx_id"]  # never a caller's id
        frame = pd.concat([generated, frame], ignore_index=True)
    return write_transactions(frame.sort_values("timestamp", kind="stable"), Path(out))


def logged_transactions(labelled: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per labelled transaction (the latest outcome of a transaction scored twice),
    users hashed as logged; rows the log cannot turn into a transaction are skipped."""
    rows = {}
    for record in sorted(labelled, key=lambda r: r.get("ts") or 0.0):
        row = _transaction(record)
        if row is not None:
            rows[row["tx_id"]] = row
    frame = pd.DataFrame(list(rows.values()), columns=COLUMNS)
    counts = frame["user_id"].value_counts()
    return frame[frame["user_id"].isin(counts[counts >= MIN_HISTORY].index)].reset_index(
        drop=True)


def _transaction(record: dict[str, Any]) -> dict[str, Any] | None:
    instance, label = record.get("input"), record.get("label")
    if not isinstance(instance, dict) or label not in LABELS or record.get("served_by") == "shadow":
        return None
    tx = instance.get("transaction") or {}
    merchant = tx.get("merchant") or (f"terminal:{tx['terminal_id']}" if tx.get("terminal_id")
                                      else None)
    when = parse_time(str(tx.get("timestamp") or ""))
    user = instance.get("user_id") or record.get("user_hash")
    amount = tx.get("amount")
    if (merchant is None or isinstance(when, str) or not user
            or not isinstance(amount, int | float) or amount < 0):
        return None
    tx_id = instance.get("transaction_id") or record.get("key") or record["prediction_id"]
    return {"tx_id": str(tx_id), "user_id": str(user), "timestamp": pd.Timestamp(when),
            "amount": float(amount), "merchant": str(merchant),
            "category": tx.get("category"), "channel": tx.get("channel"),
            "fraud": LABELS[label], "scenario": LABELS[label]}
