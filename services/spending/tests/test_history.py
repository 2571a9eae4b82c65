import datetime as dt

import pytest

from services.spending.history import OTHER, HistoryError, HistoryLimits, build_history
from services.spending.schema import HistoryItem

from .conftest import daily_transactions, monthly_history

TODAY = dt.date(2025, 6, 15)


def build(items, limits=HistoryLimits(), **kwargs):
    return build_history([HistoryItem(**i) for i in items], limits, today=TODAY, **kwargs)


def error_of(items, **kwargs) -> HistoryError:
    with pytest.raises(HistoryError) as info:
        build(items, **kwargs)
    return info.value


def test_transactions_count_complete_months_only():
    items = daily_transactions("2024-01-01", "2024-06-14")
    history = build(items)
    assert [str(p) for p in history.monthly.index] == ["2024-01", "2024-02", "2024-03",
                                                        "2024-04", "2024-05"]
    assert history.daily.index[-1] == history.monthly.index[-1].end_time.normalize()
    assert history.monthly.iloc[0] == pytest.approx(
        sum(i["amount"] for i in items if i["date"] < "2024-02-01"))
    with_june = build(items, as_of=dt.date(2024, 6, 30))
    assert str(with_june.monthly.index[-1]) == "2024-06"


def test_monthly_totals_sum_categories():
    items = [{"month": "2024-01", "amount": 10, "category": "a"},
             {"month": "2024-01", "amount": 5, "category": "b"},
             {"month": "2024-02", "amount": 7, "category": "a"},
             {"month": "2024-03", "amount": 8, "category": "a"}]
    history = build(items)
    assert history.monthly.tolist() == [15.0, 7.0, 8.0]
    assert history.categories["b"].tolist() == [5.0, 0.0, 0.0]
    assert history.daily is None


def test_many_categories_fold_into_other():
    items = [{"month": "2024-01", "amount": 100 - k, "category": f"c{k}"} for k in range(5)]
    items += [{"month": m, "amount": 1} for m in ("2024-02", "2024-03")]
    history = build(items, HistoryLimits(max_categories=3))
    assert set(history.categories) == {"c0", "c1", OTHER}
    assert history.categories[OTHER].tolist() == [98 + 97 + 96, 1.0, 1.0]


@pytest.mark.parametrize(("items", "field", "words"), [
    ([], "history", "empty"),
    ([{"date": "2024-03-02", "amount": 1}, {"date": "2024-03-01", "amount": 1}],
     "history[1].date", "sorted"),
    ([{"month": "2024-03", "amount": 1}, {"month": "2024-01", "amount": 1}],
     "history[1].month", "sorted"),
    ([{"date": "2024-03-02", "amount": 1}, {"date": "2025-07-01", "amount": 1}],
     "history[1].date", "future"),
    ([{"month": "2025-05", "amount": 1}, {"month": "2025-07", "amount": 1}],
     "history[1].month", "future"),
    ([{"month": "2024-01", "amount": 1}, {"month": "2024-03", "amount": 1},
      {"month": "2024-04", "amount": 1}], "history", "2024-02 is missing"),
    ([{"month": "2024-01", "amount": 1}, {"month": "2024-01", "amount": 2}],
     "history[1].month", "twice"),
    ([{"month": "2024-01", "amount": 1}, {"date": "2024-02-01", "amount": 2}],
     "history[1]", "mix"),
    (monthly_history(2), "history", "at least 3"),
])
def test_bad_histories_name_the_field(items, field, words):
    error = error_of(items)
    assert error.field == field
    assert words in error.message


def test_too_many_points_and_bad_as_of():
    items = daily_transactions("2024-01-01", "2024-04-30")
    assert error_of(items, limits=HistoryLimits(max_points=50)).field == "history"
    assert error_of(items, as_of=dt.date(2024, 4, 1)).field == "as_of"
    assert error_of(items, as_of=dt.date(2026, 1, 1)).field == "as_of"


def test_long_histories_keep_the_latest_months():
    history = build(monthly_history(130, start="2013-01"), HistoryLimits(max_months=120))
    assert history.months == 120
    assert str(history.monthly.index[-1]) == "2023-10"
