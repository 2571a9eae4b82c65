"""A user's own spending: a transactions CSV (`user,date,amount[,category]`) or monthly totals
(`user,month,total`), told apart by the header, read into one history per household (the
items a forecast request carries), with every problem named by its line and column.

Training holds out each household's last `HOLDOUT_MONTHS` complete months, as it does on the
generated households, so each needs those plus the `MIN_FORECAST_MONTHS` a forecast needs.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from kit.datafiles import DataError, Problem, Problems, csv_rows, plain_number
from services.spending.data import SyntheticUser
from services.spending.history import HistoryLimits, build_history
from services.spending.schema import HistoryItem

HOLDOUT_MONTHS = 3  # train.TrainConfig.holdout_months
MIN_FORECAST_MONTHS = HistoryLimits().min_months
MIN_MONTHS = HOLDOUT_MONTHS + MIN_FORECAST_MONTHS
MIN_USERS = 5  # the interval scale is fitted on their held-out months (15 at least)
MAX_USER, MAX_CATEGORY, MAX_AMOUNT = 128, 40, 1e12
KINDS = {"transactions": ("user", "date", "amount"), "monthly": ("user", "month", "total")}


def file_kind(path: Path) -> str:
    """`transactions` or `monthly`, by the header; a DataError on line 1 when it is neither."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        header = None  # csv_rows says what is wrong with the file
    if header is None:
        return "transactions"
    names = {h.strip() for h in header}
    matches = [kind for kind, columns in KINDS.items() if set(columns) <= names]
    if len(matches) == 1:
        return matches[0]
    why = "both" if matches else "neither"
    raise DataError(path, [Problem(f"the header ({', '.join(header) or 'empty'}) matches "
                                   f"{why} of user,date,amount[,category] (transactions) and "
                                   "user,month,total (monthly totals)", 1)])


def user_histories(path: Path, today: dt.date | None = None
                   ) -> tuple[str, list[SyntheticUser]]:
    """(kind, one history per user in the file's order of first appearance), each sorted by
    time as a forecast request's `history` items."""
    path = Path(path)
    today = today or dt.datetime.now(dt.UTC).date()
    kind = file_kind(path)
    problems = Problems(path)
    items: dict[str, list[tuple[Any, int, dict[str, Any]]]] = {}
    first_line: dict[str, int] = {}
    for line, row in csv_rows(path, KINDS[kind]):
        parsed = _row(kind, line, row, problems, today)
        if parsed is not None:
            user, when, item = parsed
            first_line.setdefault(user, line)
            items.setdefault(user, []).append((when, line, item))
    if not problems.found:
        for user, rows in items.items():
            rows.sort(key=lambda r: (r[0], r[1]))
            months = (_monthly_months if kind == "monthly" else _transaction_months)(
                user, rows, problems)
            if months is not None and months < MIN_MONTHS:
                problems.add(f"user {user!r} has {months} complete month(s); at least "
                             f"{MIN_MONTHS} are needed: the last {HOLDOUT_MONTHS} are held out "
                             f"to evaluate, and a forecast needs {MIN_FORECAST_MONTHS} before "
                             "them", first_line[user], "user")
        if len(items) < MIN_USERS:
            problems.add(f"{len(items)} user(s); at least {MIN_USERS} are needed (the "
                         "forecast intervals are fitted on their held-out months)", None,
                         "user")
    problems.raise_any()
    return kind, [SyntheticUser(user, [item for _, _, item in rows])
                  for user, rows in items.items()]


def _row(kind: str, line: int, row: dict[str, str], problems: Problems, today: dt.date
         ) -> tuple[str, Any, dict[str, Any]] | None:
    before = len(problems.found)
    user = (row.get("user") or "").strip()
    if not user:
        problems.add("empty user", line, "user")
    elif len(user) > MAX_USER:
        problems.add(f"{len(user)} characters; at most {MAX_USER}", line, "user")
    amount_column = "total" if kind == "monthly" else "amount"
    amount = _amount((row.get(amount_column) or "").strip())
    if isinstance(amount, str):
        problems.add(amount, line, amount_column)
    if kind == "monthly":
        when = _month((row.get("month") or "").strip(), today)
        time_column, time_key = "month", "month"
    else:
        when = _date((row.get("date") or "").strip(), today)
        time_column, time_key = "date", "date"
    if isinstance(when, str):
        problems.add(when, line, time_column)
    category = (row.get("category") or "").strip() if kind == "transactions" else ""
    if len(category) > MAX_CATEGORY:
        problems.add(f"{len(category)} characters; at most {MAX_CATEGORY}", line, "category")
    if len(problems.found) > before:
        return None
    item: dict[str, Any] = {time_key: str(when), "amount": amount}
    if category:
        item["category"] = category
    return user, when, item


def _amount(value: str) -> float | str:
    amount = plain_number(value)
    if isinstance(amount, str):
        return amount
    if amount > MAX_AMOUNT:
        return f"{value!r} is more than {MAX_AMOUNT:.0e}"
    if amount < 0:
        return f"{value} is negative: spending is never below 0 (net a refund against its month)"
    return amount


def _date(value: str, today: dt.date) -> dt.date | str:
    """ISO 8601: `2024-03-01` (a time after it is allowed and ignored)."""
    try:
        day = dt.datetime.fromisoformat(value).date() if value else None
    except ValueError:
        day = None
    if day is None:
        return f"{value!r} is not a date such as 2024-03-01" if value else "empty date"
    if day > today:
        return f"{day} is in the future (today is {today})"
    return day


def _month(value: str, today: dt.date) -> pd.Period | str:
    """`2024-03`."""
    if len(value) != 7 or value[4] != "-":
        return f"{value!r} is not a month such as 2024-03" if value else "empty month"
    try:
        month = pd.Period(value, freq="M")
    except ValueError:
        return f"{value!r} is not a month such as 2024-03"
    if month > pd.Period(today, freq="M"):
        return f"{month} is in the future (today is {today})"
    return month


def _monthly_months(user: str, rows: list, problems: Problems) -> int | None:
    """Months of a user's totals: each once, none missing between the first and the last."""
    seen: dict[pd.Period, int] = {}
    for month, line, _ in rows:
        if month in seen:
            problems.add(f"user {user!r} has {month} twice (line {seen[month]} and this one)",
                         line, "month")
        seen.setdefault(month, line)
    months = pd.period_range(rows[0][0], rows[-1][0], freq="M")
    missing = months.difference(pd.PeriodIndex(list(seen), freq="M"))
    if len(missing):
        problems.add(f"user {user!r} has no total for {', '.join(map(str, missing[:3]))}"
                     f"{' …' if len(missing) > 3 else ''} between {months[0]} and "
                     f"{months[-1]}: monthly totals must be contiguous (write 0 for a month "
                     "with no spending)", rows[0][1], "month")
        return None
    return len(months)


def _transaction_months(user: str, rows: list, problems: Problems) -> int | None:
    """Complete months of a user's transactions (the last only when its last day is in the
    file, as the service counts them); a month inside with no transaction at all is more likely
    a gap in an export than a month without spending, so it is a problem."""
    first, last = rows[0][0], rows[-1][0]
    end = pd.Period(last, freq="M") - (0 if pd.Timestamp(last).is_month_end else 1)
    having = {pd.Period(day, freq="M") for day, _, _ in rows}
    missing = pd.period_range(pd.Period(first, freq="M"), pd.Period(last, freq="M"),
                              freq="M").difference(pd.PeriodIndex(list(having), freq="M"))
    if len(missing):
        problems.add(f"user {user!r} has no transaction in {', '.join(map(str, missing[:3]))}"
                     f"{' …' if len(missing) > 3 else ''}: a gap in the export? (a month with "
                     "no spending: add a row with amount 0)", rows[0][1], "date")
        return None
    return max(0, (end - pd.Period(first, freq="M")).n + 1)


def as_monthly(user: SyntheticUser) -> SyntheticUser:
    """A history as its complete monthly totals (what the service forecasts it from)."""
    items = [HistoryItem(**t) for t in user.transactions]
    if items[0].month is not None:
        return user
    monthly = build_history(items, HistoryLimits(max_points=10**6)).monthly
    return SyntheticUser(user.user_id, [{"month": str(p), "amount": round(float(v), 2)}
                                        for p, v in monthly.items()])


def write_histories(kind: str, users: list[SyntheticUser], out: Path) -> int:
    """Histories (`date` or `month` items) as an own-data CSV of `kind`; the row count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(KINDS[kind] + (("category",) if kind == "transactions" else ()))
        for user in users:
            for item in user.transactions:
                if kind == "transactions":
                    writer.writerow([user.user_id, item["date"], f"{item['amount']:.2f}",
                                     item.get("category") or ""])
                else:
                    writer.writerow([user.user_id, item["month"], f"{item['amount']:.2f}"])
                count += 1
    return count


def check_user_data(path: Path, parameters: dict | None = None) -> None:
    """What the trainer service runs before it queues a job (a 422 instead of a failed job)."""
    user_histories(path)
