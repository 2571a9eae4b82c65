"""A spending history checked and turned into series: complete monthly totals (overall and
per category) and, for transaction histories, daily totals for the holiday-aware model.

A month counts once it is complete: for transactions, months up to `as_of` (default: the last
transaction's date), the `as_of` month itself only when `as_of` is its last day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.spending.schema import HistoryItem

UNCATEGORISED = "uncategorised"
OTHER = "other"


@dataclass(frozen=True)
class HistoryLimits:
    min_months: int = 3
    max_months: int = 120
    max_points: int = 20_000
    max_categories: int = 12


@dataclass
class SpendingHistory:
    """Monthly totals (complete months, no gaps), daily totals when known, per-category totals."""

    monthly: pd.Series
    daily: pd.Series | None = None
    categories: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def months(self) -> int:
        return len(self.monthly)


class HistoryError(ValueError):
    """A history that breaks the contract; `field` names where (relative to the instance)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def build_history(
    items: list[HistoryItem],
    limits: HistoryLimits,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
) -> SpendingHistory:
    """Check a history (sorted, not in the future, bounded) and build its series."""
    today = today or dt.datetime.now(dt.UTC).date()
    if not items:
        raise HistoryError("history", "the history is empty")
    if len(items) > limits.max_points:
        raise HistoryError(
            "history", f"{len(items)} points; the limit is {limits.max_points}"
        )
    kinds = {item.date is not None for item in items}
    if len(kinds) > 1:
        first_other = next(i for i, it in enumerate(items) if (it.date is not None) != (
            items[0].date is not None))
        raise HistoryError(
            f"history[{first_other}]", "mix of transactions (`date`) and monthly totals (`month`)"
        )
    if items[0].date is not None:
        return _from_transactions(items, limits, as_of, today)
    if as_of is not None:
        raise HistoryError("as_of", "`as_of` applies to transaction histories only")
    return _from_monthly(items, limits, today)


def _first_unsorted(keys: list) -> int | None:
    for i in range(1, len(keys)):
        if keys[i] < keys[i - 1]:
            return i
    return None


def _from_transactions(
    items: list[HistoryItem], limits: HistoryLimits, as_of: dt.date | None, today: dt.date
) -> SpendingHistory:
    dates = [item.date for item in items]
    bad = _first_unsorted(dates)
    if bad is not None:
        raise HistoryError(f"history[{bad}].date", "the history must be sorted by date")
    if dates[-1] > today:
        future = next(i for i, d in enumerate(dates) if d > today)
        raise HistoryError(f"history[{future}].date", f"{dates[future]} is in the future")
    if as_of is not None and (as_of > today or as_of < dates[-1]):
        raise HistoryError(
            "as_of", f"must lie between the last transaction ({dates[-1]}) and today ({today})"
        )
    as_of = as_of or dates[-1]
    last_day = pd.Timestamp(as_of)
    last_month = last_day.to_period("M") - (0 if last_day.is_month_end else 1)
    frame = pd.DataFrame({
        "ds": pd.to_datetime(dates),
        "amount": [item.amount for item in items],
        "category": [item.category or UNCATEGORISED for item in items],
    })
    first_month = frame.ds.iloc[0].to_period("M")
    months = pd.period_range(first_month, last_month, freq="M") if last_month >= first_month \
        else pd.PeriodIndex([], freq="M")
    _check_month_count(len(months), limits)
    months = months[-limits.max_months:]
    frame = frame[frame.ds >= months[0].start_time]
    frame = frame[frame.ds <= months[-1].end_time]
    day_index = pd.date_range(months[0].start_time, months[-1].end_time.normalize(), freq="D")
    daily = frame.groupby("ds").amount.sum().reindex(day_index, fill_value=0.0)
    monthly = daily.groupby(daily.index.to_period("M")).sum().reindex(months, fill_value=0.0)
    by_category = _monthly_by_category(frame, months, limits.max_categories)
    return SpendingHistory(monthly.astype(float), daily.astype(float), by_category)


def _from_monthly(
    items: list[HistoryItem], limits: HistoryLimits, today: dt.date
) -> SpendingHistory:
    periods = [pd.Period(item.month, freq="M") for item in items]
    bad = _first_unsorted(periods)
    if bad is not None:
        raise HistoryError(f"history[{bad}].month", "the history must be sorted by month")
    current = pd.Period(today, freq="M")
    if periods[-1] > current:
        future = next(i for i, p in enumerate(periods) if p > current)
        raise HistoryError(f"history[{future}].month", f"{periods[future]} is in the future")
    frame = pd.DataFrame({
        "month": periods,
        "amount": [item.amount for item in items],
        "category": [item.category or UNCATEGORISED for item in items],
    })
    duplicated = frame.duplicated(["month", "category"]).to_numpy()
    if duplicated.any():
        i = int(np.argmax(duplicated))
        raise HistoryError(f"history[{i}].month", f"{periods[i]} appears twice")
    months = pd.period_range(periods[0], periods[-1], freq="M")
    missing = months.difference(pd.PeriodIndex(periods, freq="M"))
    if len(missing):
        raise HistoryError(
            "history", f"monthly totals must be contiguous; {missing[0]} is missing"
        )
    _check_month_count(len(months), limits)
    months = months[-limits.max_months:]
    frame = frame[frame.month >= months[0]]
    monthly = frame.groupby("month").amount.sum().reindex(months, fill_value=0.0)
    frame = frame.assign(ds=frame.month.map(lambda p: p.start_time))
    by_category = _monthly_by_category(frame, months, limits.max_categories)
    return SpendingHistory(monthly.astype(float), None, by_category)


def _check_month_count(count: int, limits: HistoryLimits) -> None:
    if count < limits.min_months:
        raise HistoryError(
            "history",
            f"{count} complete month(s) of history; at least {limits.min_months} are needed",
        )


def _monthly_by_category(
    frame: pd.DataFrame, months: pd.PeriodIndex, max_categories: int
) -> dict[str, pd.Series]:
    """Monthly totals per category; beyond the `max_categories` largest, one `other`."""
    totals = frame.groupby("category").amount.sum().sort_values(ascending=False, kind="stable")
    if len(totals) > max_categories:
        keep = set(totals.index[: max_categories - 1])
        frame = frame.assign(category=frame.category.where(frame.category.isin(keep), OTHER))
    month_of = frame.ds.dt.to_period("M")
    out = {}
    for name, part in frame.groupby("category"):
        series = part.amount.groupby(month_of[part.index]).sum()
        out[str(name)] = series.reindex(months, fill_value=0.0).astype(float)
    return out
