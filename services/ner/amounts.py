"""MONEY normalisation: "INR 1.2 lakh" → 120000.0 INR. Unmarked amounts are rupees."""

from __future__ import annotations

import re

CURRENCY_MARKERS = [
    (re.compile(r"₹|(?<![a-z])(rs|inr)(?![a-z])|\brupees?\b|/-"), "INR"),
    (re.compile(r"€|\beuros?\b|\beur\b"), "EUR"),
    (re.compile(r"£|\bpounds?\b|\bgbp\b"), "GBP"),
    (re.compile(r"\brmb|\byuan\b"), "CNY"),
    (re.compile(r"\$|\bdollars?\b|\busd\b|\bbucks\b"), "USD"),
]
NUMBER = re.compile(r"(?<!\d)(\d{1,3}(?:,\d{2,3})+|\d+)(\.\d+)?|(?<![\w.])()(\.\d+)")
MULTIPLIERS = {
    "k": 1e3, "thousand": 1e3, "l": 1e5, "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5,
    "cr": 1e7, "crore": 1e7, "crores": 1e7, "m": 1e6, "mn": 1e6, "million": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9,
}
MULTIPLIER_AFTER_NUMBER = re.compile(r"\s*([a-z]+)")
DEFAULT_CURRENCY = "INR"


def currency_of(text: str) -> str:
    lowered = text.lower()
    for pattern, code in CURRENCY_MARKERS:
        if pattern.search(lowered):
            return code
    return DEFAULT_CURRENCY


def amount_of(text: str) -> float | None:
    """The first number in the text times the multiplier word right after it, if any."""
    lowered = text.lower()
    match = NUMBER.search(lowered)
    if not match:
        return None
    whole, fraction = match.group(1) or "0", match.group(2) or match.group(4) or ""
    value = float(whole.replace(",", "") + fraction)
    word = MULTIPLIER_AFTER_NUMBER.match(lowered, match.end())
    if word and word.group(1) in MULTIPLIERS:
        value *= MULTIPLIERS[word.group(1)]
    return round(value, 2)


def normalise_money(text: str) -> dict[str, object] | None:
    amount = amount_of(text)
    if amount is None:
        return None
    return {"amount": amount, "currency": currency_of(text)}
