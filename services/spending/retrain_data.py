"""Retraining data from what was served: the households' histories in the prediction log as an
own-data CSV (docs/own-data.md), optionally with the synthetic training households.

"New data" for spending is the users' new months, and the log already holds them: each forecast
request carries its household's whole history, so no outcome is needed (outcome labels, the
actual month totals, are not read). Per household the latest history is kept (the longest on a
tie): by the hashed `user_id` where the request named one, else by the history's first item (a
household's later requests start where its earlier ones did). Requests for a stored history
(`user_id` alone) carry no history and are skipped. Households with fewer complete months than
the own-data check needs are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import TypeAdapter, ValidationError

from services.spending.data import SyntheticUser, generate_users
from services.spending.history import HistoryError, HistoryLimits, build_history
from services.spending.own_data import MIN_MONTHS, as_monthly, write_histories
from services.spending.schema import HistoryItem

ITEMS = TypeAdapter(list[HistoryItem])
GENERATED_USERS = 60  # train.TrainConfig: the default model's households


def log_dataset(labelled: list[dict[str, Any]], out: Path, original: bool) -> int:
    """Write the logged households (rows of `LogStore.labelled` or `read_predictions` for
    "spending") to `out`: a transactions CSV when every history is transactions, else monthly
    totals (transaction histories summed into their complete months). With `original`, the
    synthetic households of the default model are appended. Returns the rows written."""
    households = latest_histories(labelled)
    if original:
        households += generate_users(GENERATED_USERS, 7, min_months=6, max_months=48)
    kind = "transactions" if all("date" in h.transactions[0] for h in households) else "monthly"
    if kind == "monthly":
        households = [as_monthly(h) for h in households]
    return write_histories(kind, households, Path(out))


def latest_histories(rows: list[dict[str, Any]]) -> list[SyntheticUser]:
    latest: dict[Any, tuple[tuple, list[dict[str, Any]]]] = {}
    for row in rows:
        instance = row.get("input")
        if not isinstance(instance, dict) or not instance.get("history"):
            continue
        try:
            items = ITEMS.validate_python(instance["history"])
        except ValidationError:
            continue
        history = [item.model_dump(exclude_none=True, mode="json") for item in items]
        first = history[0]
        key = instance.get("user_id") or row.get("user_hash") or tuple(sorted(first.items()))
        rank = (history[-1].get("date") or history[-1].get("month"), len(history))
        if key not in latest or rank >= latest[key][0]:
            latest[key] = (rank, history)
    out = []
    for i, (key, (_, history)) in enumerate(latest.items()):
        history = _with_empty_months(history)
        if _complete_months(history) >= MIN_MONTHS:
            out.append(SyntheticUser(key if isinstance(key, str) else f"history-{i}", history))
    return out


def _with_empty_months(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A transaction history's months without a transaction, as the service forecast them (0
    spent), written as a 0 row on the month's first day (the own-data check asks for one)."""
    if "date" not in history[0]:
        return history
    having = {d["date"][:7] for d in history}
    span = pd.period_range(history[0]["date"][:7], history[-1]["date"][:7], freq="M")
    empty = [{"date": p.start_time.date().isoformat(), "amount": 0.0} for p in span
             if str(p) not in having]
    return sorted(history + empty, key=lambda d: d["date"])


def _complete_months(history: list[dict[str, Any]]) -> int:
    try:
        items = [HistoryItem(**item) for item in history]
        return build_history(items, HistoryLimits(min_months=1, max_points=10**6)).months
    except HistoryError:
        return 0
