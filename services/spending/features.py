"""Pure calendar features: Indian holidays with festival shopping windows, month arithmetic."""

from __future__ import annotations

from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

# Days before/after a festival that carry its spending (Dhanteras shopping precedes Diwali).
FESTIVAL_WINDOWS: dict[str, tuple[int, int]] = {
    "Diwali": (-7, 1),
    "Dussehra": (-2, 0),
    "Holi": (-2, 0),
    "Eid al-Fitr": (-3, 0),
    "Christmas": (-3, 0),
}
FESTIVAL_COLUMNS = {name: "diwali" if name == "Diwali" else "festival"
                    for name in FESTIVAL_WINDOWS}
HOLIDAY_COLUMNS = ("diwali", "festival", "public_holiday")


def _clean_name(name: str) -> str:
    return name.replace(" (estimated)", "").strip()


@lru_cache(maxsize=64)
def _india_holidays(first_year: int, last_year: int) -> pd.DataFrame:
    rows = []
    for day, names in holidays.India(years=range(first_year, last_year + 1)).items():
        for raw in names.split("; "):
            name = _clean_name(raw)
            lower, upper = FESTIVAL_WINDOWS.get(name, (0, 0))
            rows.append((name, pd.Timestamp(day), lower, upper))
    frame = pd.DataFrame(rows, columns=["holiday", "ds", "lower_window", "upper_window"])
    return frame.sort_values(["ds", "holiday"]).reset_index(drop=True)


def indian_holidays(first_year: int, last_year: int) -> pd.DataFrame:
    """Prophet's `holidays` frame for India (the `holidays` package that
    `add_country_holidays("IN")` reads), with festival windows instead of single days."""
    return _india_holidays(first_year, last_year).copy()


def festival_flags(days: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily 0/1 regressors: Diwali's window, the other festival windows, other public holidays.
    Three columns instead of Prophet's one column per holiday per window day keep the Stan
    input, Prophet's feature building and so the fit small."""
    table = _india_holidays(days.min().year - 1, days.max().year + 1)
    columns = list(HOLIDAY_COLUMNS)
    marked: dict[str, list[pd.Timestamp]] = {column: [] for column in columns}
    for name, day, lower, upper in table.itertuples(index=False):
        column = FESTIVAL_COLUMNS.get(name, "public_holiday")
        marked[column].extend(day + pd.Timedelta(days=k) for k in range(lower, upper + 1))
    flags = pd.DataFrame(
        {column: days.isin(marked[column]).astype(float) for column in columns}, index=days
    )
    return flags


def festival_days(months: pd.PeriodIndex, festival: str = "Diwali") -> np.ndarray:
    """How many days of the festival's window fall in each month (a monthly regressor:
    Diwali moves between October and November, which yearly seasonality cannot follow)."""
    table = _india_holidays(months.min().year - 1, months.max().year + 1)
    lower, upper = FESTIVAL_WINDOWS.get(festival, (0, 0))
    days = [
        d + pd.Timedelta(days=k)
        for d in table.loc[table.holiday == festival, "ds"]
        for k in range(lower, upper + 1)
    ]
    counts = pd.Series(1, index=pd.DatetimeIndex(days)).groupby(
        pd.DatetimeIndex(days).to_period("M")
    ).sum()
    return counts.reindex(months, fill_value=0).to_numpy(dtype=float)


def future_months(last: pd.Period, horizon: int) -> pd.PeriodIndex:
    return pd.period_range(last + 1, periods=horizon, freq="M")


def month_starts(months: pd.PeriodIndex) -> pd.DatetimeIndex:
    return months.to_timestamp(how="start")
