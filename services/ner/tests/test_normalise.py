"""Amount and date normalisation across formats (no model needed)."""

from datetime import date

import pytest

from services.ner.amounts import normalise_money
from services.ner.dates import normalise_date

REF = date(2025, 3, 15)  # a Saturday


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("₹5,000", 5000, "INR"), ("Rs. 250", 250, "INR"), ("Rs.1,20,000/-", 120000, "INR"),
        ("INR 1.2 lakh", 120000, "INR"), ("$40", 40, "USD"), ("5k", 5000, "INR"),
        ("2 crore rupees", 20_000_000, "INR"), ("2.5cr", 25_000_000, "INR"),
        ("1.5L", 150000, "INR"), ("500rs", 500, "INR"), ("€30.5", 30.5, "EUR"),
        ("£12.99", 12.99, "GBP"), ("$ 41.7 million", 41_700_000, "USD"),
        ("USD 15", 15, "USD"), ("1,500", 1500, "INR"), ("₹7.8 lakh", 780000, "INR"),
        ("300 bucks", 300, "USD"), ("$ .42", 0.42, "USD"),
    ],
)
def test_money_normalisation(text, amount, currency):
    assert normalise_money(text) == {"amount": amount, "currency": currency}


def test_money_without_a_number_has_no_value():
    assert normalise_money("some rupees") is None


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("12 March", "2025-03-12", "2025-03-12"),
        ("20 March", "2024-03-20", "2024-03-20"),  # no year and after the reference: last year's
        ("12 March 2024", "2024-03-12", "2024-03-12"),
        ("March 3rd, 2024", "2024-03-03", "2024-03-03"),
        ("2024-11-03", "2024-11-03", "2024-11-03"),
        ("15/06/2025", "2025-06-15", "2025-06-15"),
        ("03/04/2025", "2025-04-03", "2025-04-03"),  # day first
        ("12-31-2024", "2024-12-31", "2024-12-31"),  # month first only when day first is impossible
        ("yesterday", "2025-03-14", "2025-03-14"),
        ("day before yesterday", "2025-03-13", "2025-03-13"),
        ("last month", "2025-02-01", "2025-02-28"),
        ("this week", "2025-03-10", "2025-03-16"),
        ("next Friday", "2025-03-21", "2025-03-21"),
        ("last Friday", "2025-03-14", "2025-03-14"),
        ("Friday", "2025-03-14", "2025-03-14"),
        ("October", "2024-10-01", "2024-10-31"),
        ("in October", "2024-10-01", "2024-10-31"),
        ("March 2025", "2025-03-01", "2025-03-31"),
        ("last quarter", "2024-10-01", "2024-12-31"),
        ("this financial year", "2024-04-01", "2025-03-31"),
        ("FY24", "2023-04-01", "2024-03-31"),
        ("FY 2023-24", "2023-04-01", "2024-03-31"),
        ("Q1 2025", "2025-01-01", "2025-03-31"),
        ("last 3 months", "2024-12-16", "2025-03-15"),
        ("past 30 days", "2025-02-14", "2025-03-15"),
        ("2 weeks ago", "2025-03-01", "2025-03-01"),
        ("2023", "2023-01-01", "2023-12-31"),
        ("year ended December 31 , 2012", "2012-01-01", "2012-12-31"),
        ("5th", "2025-03-05", "2025-03-05"),
        ("28th", "2025-02-28", "2025-02-28"),
    ],
)
def test_date_normalisation(text, start, end):
    assert normalise_date(text, REF) == {"start": start, "end": end}


def test_last_month_across_a_year_boundary():
    assert normalise_date("last month", date(2025, 1, 10)) == {
        "start": "2024-12-01", "end": "2024-12-31"}


@pytest.mark.parametrize("text", ["Diwali", "the year", "31/31/2024"])
def test_unresolvable_dates_have_no_value(text):
    assert normalise_date(text, REF) is None


@pytest.mark.parametrize(("text", "reference"), [
    ("tomorrow", date(9999, 12, 31)), ("yesterday", date(1, 1, 1)),
    ("next year", date(9999, 6, 1)), ("next month", date(9999, 12, 5)),
    ("last week", date(1, 1, 3)), ("in 3 days", date(9999, 12, 30)),
])
def test_a_date_past_the_calendars_edge_has_no_value_instead_of_an_error(text, reference):
    assert normalise_date(text, reference) is None
