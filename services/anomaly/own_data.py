"""A user's own transactions: a CSV `user,time,amount,merchant[,category][,channel][,fraud]
[,transaction_id]`, read into the frame the trainer replays (the generator's columns), with
every problem named by its line and column.

The fraud label is optional: with it, training selects features and reports the same holdout
metrics as the default model, and confirmed frauds feed the merchant-risk features; without it
the model is fitted unsupervised and the report says so (docs/own-data.md).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kit.datafiles import Problems, csv_rows, plain_number
from services.anomaly.data import COLUMNS
from services.anomaly.features import LOCAL_TZ, MIN_HISTORY
from services.anomaly.schema import EARLIEST, LATEST

REQUIRED = ("user", "time", "amount", "merchant")
OPTIONAL = ("category", "channel", "fraud", "transaction_id")
FILE_COLUMNS = ("transaction_id", "user", "time", "amount", "merchant", "category", "channel",
                "fraud")
FRAUD_VALUES = {"1": 1, "true": 1, "yes": 1, "fraud": 1,
                "0": 0, "false": 0, "no": 0, "genuine": 0}
MAX_ID, MAX_LABEL = 128, 64  # the predict schema's limits (user, merchant, id; category, channel)
MIN_TRANSACTIONS = 300  # a forest of 256-row samples, fitted on one window of several
MIN_WINDOW_TRANSACTIONS = 50


@dataclass(frozen=True)
class OwnTransactions:
    frame: pd.DataFrame  # the generator's columns, oldest first; fraud 0 where unlabelled
    labelled: bool
    name: str


def read_transactions(path: Path, cfg: Any) -> OwnTransactions:
    """The file's transactions, checked against the training windows of `cfg` (a
    train.TrainConfig): enough days, transactions in each window, and frauds where labels are
    given. Raises a DataError naming every problem."""
    path = Path(path)
    problems = Problems(path)
    rows: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    id_line: dict[str, int] = {}
    header: list[str] = []
    for line, row in csv_rows(path, REQUIRED):
        header = header or list(row)
        parsed = _row(line, row, problems)
        if parsed is None:
            continue
        if parsed["tx_id"] in id_line:
            problems.add(f"the same transaction_id as line {id_line[parsed['tx_id']]}", line,
                         "transaction_id")
            continue
        id_line[parsed["tx_id"]] = line
        first_line.setdefault(parsed["user_id"], line)
        rows.append(parsed)
    labelled = "fraud" in header
    if len(rows) < MIN_TRANSACTIONS and not problems.found:
        problems.add(f"{len(rows)} transaction(s); at least {MIN_TRANSACTIONS} are needed")
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "scenario"])
    counts = frame["user_id"].value_counts(sort=False)
    for user, n in counts[counts < MIN_HISTORY].items() if not problems.found else ():
        problems.add(f"user {user!r} has {n} transaction(s); at least {MIN_HISTORY} are "
                     "needed to build a profile (leave such users out)", first_line[user],
                     "user")
    problems.raise_any()
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame["fraud"] = frame["fraud"].fillna(0).astype(int)
    frame["scenario"] = frame["fraud"]
    _check_windows(frame, cfg, labelled, problems)
    problems.raise_any()
    return OwnTransactions(frame, labelled, path.name)


def _row(line: int, row: dict[str, str], problems: Problems) -> dict[str, Any] | None:
    before = len(problems.found)
    cell = {k: (row.get(k) or "").strip() for k in (*REQUIRED, *OPTIONAL)}
    for column in ("user", "merchant"):
        if not cell[column]:
            problems.add(f"empty {column}", line, column)
        elif len(cell[column]) > MAX_ID:
            problems.add(f"{len(cell[column])} characters; at most {MAX_ID}", line, column)
    for column in ("category", "channel"):
        if len(cell[column]) > MAX_LABEL:
            problems.add(f"{len(cell[column])} characters; at most {MAX_LABEL}", line, column)
    when = parse_time(cell["time"])
    if isinstance(when, str):
        problems.add(when, line, "time")
    amount = parse_amount(cell["amount"])
    if isinstance(amount, str):
        problems.add(amount, line, "amount")
    fraud = None
    if "fraud" in row:
        fraud = FRAUD_VALUES.get(cell["fraud"].lower())
        if fraud is None:
            problems.add(f"{cell['fraud']!r} is not a label: 1/0, true/false, yes/no or "
                         "fraud/genuine (to train without labels, leave the column out)",
                         line, "fraud")
    tx_id = cell["transaction_id"] if "transaction_id" in row else f"line{line}"
    if "transaction_id" in row and not 0 < len(tx_id) <= MAX_ID:
        problems.add(f"a transaction_id of 1 to {MAX_ID} characters is needed", line,
                     "transaction_id")
    if len(problems.found) > before:
        return None
    return {"tx_id": tx_id, "user_id": cell["user"], "timestamp": when, "amount": amount,
            "merchant": cell["merchant"], "category": cell["category"] or None,
            "channel": cell["channel"] or None, "fraud": fraud}


def parse_time(value: str) -> datetime | str:
    """ISO 8601 with a time of day (`2024-03-01 14:05`, `2024-03-01T14:05:09`, an offset or
    `Z`); naive times are Indian local time, as in serving. Returns the naive local time, or
    what is wrong."""
    if not value:
        return "empty time"
    if ":" not in value:
        return f"{value!r} has no time of day (the hour is a feature): write 2024-03-01 14:05"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not an ISO 8601 time such as 2024-03-01 14:05 or " \
               "2024-03-01T14:05:09+05:30"
    if when.tzinfo is not None:
        when = when.astimezone(LOCAL_TZ).replace(tzinfo=None)
    if not EARLIEST <= when <= LATEST:
        return f"{value!r} is not between 1970 and 2100"
    return when


def parse_amount(value: str) -> float | str:
    """Rupees as a plain decimal (`1234.50`); zero is a payment (card checks are), a negative
    amount is not."""
    amount = plain_number(value)
    if isinstance(amount, float) and amount < 0:
        return f"{value} is negative: a refund or reversal is not a payment; leave it out"
    return amount


def days_needed(cfg: Any) -> int:
    """The days `train.time_windows` lays out (selection fit, delay, fit, delay, test) plus one
    day before them, so the first window's profiles have a past."""
    return 2 * cfg.train_days + 2 * cfg.delay_days + cfg.test_days + 1


def _check_windows(frame: pd.DataFrame, cfg: Any, labelled: bool, problems: Problems) -> None:
    from services.anomaly.train import time_windows  # train imports this module

    days = frame["timestamp"].dt.normalize()
    span = int((days.max() - days.min()).days) + 1
    if span < days_needed(cfg):
        problems.add(f"the transactions span {span} day(s) ({days.min().date()} to "
                     f"{days.max().date()}); at least {days_needed(cfg)} are needed: "
                     f"selection {cfg.train_days}, label delay {cfg.delay_days}, fit "
                     f"{cfg.train_days}, delay {cfg.delay_days} and test {cfg.test_days} days, "
                     "after a day of profile warm-up", None, "time")
        return
    windows = time_windows(frame, cfg)
    y = frame["fraud"].to_numpy()
    for title, mask in (("selection", windows.select_fit), ("fit", windows.fit),
                        ("test", windows.test)):
        n = int(mask.sum())
        span_text = f"{days[mask].min().date()} to {days[mask].max().date()}" if n else "empty"
        if n < MIN_WINDOW_TRANSACTIONS:
            problems.add(f"the {title} window ({span_text}) has {n} transaction(s); at least "
                         f"{MIN_WINDOW_TRANSACTIONS} are needed", None, "time")
        elif labelled and title != "selection" and not 0 < int(y[mask].sum()) < n:
            problems.add(f"the {title} window ({span_text}) has {int(y[mask].sum())} fraud(s) "
                         f"in {n} transactions: labels need both frauds and genuine payments "
                         "there to select features and evaluate (or leave the column out to "
                         "train unsupervised)", None, "fraud")


def write_transactions(frame: pd.DataFrame, out: Path, labelled: bool = True) -> int:
    """A frame with the generator's columns as an own-data CSV (`FILE_COLUMNS`); the row
    count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = FILE_COLUMNS if labelled else FILE_COLUMNS[:-1]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in frame.itertuples(index=False):
            cells = [row.tx_id, row.user_id, pd.Timestamp(row.timestamp).isoformat(sep=" "),
                     f"{float(row.amount):.2f}", row.merchant, _cell(row.category),
                     _cell(row.channel)]
            writer.writerow(cells + ([int(row.fraud)] if labelled else []))
    return len(frame)


def _cell(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def check_user_data(path: Path, parameters: dict | None = None) -> None:
    """What the trainer service runs before it queues a job (a 422 instead of a failed job)."""
    from services.anomaly.train import run_config

    read_transactions(path, run_config(quick=bool((parameters or {}).get("quick"))))
