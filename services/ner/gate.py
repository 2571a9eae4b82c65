"""`entity_sanity`: the last pipeline step, which keeps only spans that can be entities.

The entity ruler tags the regular shapes of MONEY and DATE; the trained `ner` adds the ones that
need context ("for 1500" after a payment, "on the 5th", "friday"). On text unlike its training
data the `ner` also tags headings, tickers and counts, so whatever proposed them, a MONEY span
must look like money (a number with currency marks, multipliers or nothing else) and a DATE span
must hold a date word or date shape. Every ruler pattern passes these checks by construction, so
the ruler keeps the last word on the regular shapes. Years used as names ("the 2019 Plan",
"2022 Notes") are not dates.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc, Span

from services.ner.lexicons import FESTIVALS

AMOUNT_TOKEN = re.compile(r"^(\d{1,3}(,\d{2,3})+|\d+)(\.\d+)?$|^\.\d+$")
MONEY_WORDS = {
    "k", "lakh", "lakhs", "lac", "lacs", "l", "crore", "crores", "cr", "thousand", "million",
    "mn", "m", "billion", "bn", "b", "rupees", "rupee", "rs", "rs.", "inr", "dollars", "dollar",
    "usd", "us$", "bucks", "euros", "euro", "eur", "pounds", "gbp", "rmb", "/-", ".", "per",
    "share", "ton", "tonne", "unit", "barrel",
}
CURRENCY_SYMBOLS = set("₹$€£")
DATE_SHAPE = re.compile(
    r"^(\d{1,2}(st|nd|rd|th)|(19|20)\d{2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}"
    r"|fy\d{2}(\d{2})?|q[1-4])$"
)
DATE_WORDS = {
    "today", "yesterday", "tomorrow", "tonight", "night", "morning", "evening", "afternoon",
    "day", "days", "week", "weeks", "weekend", "fortnight", "month", "months", "quarter",
    "quarters", "year", "years", "fy", "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "monday", "tuesday",
    "wednesday", "thursday", "friday", "saturday", "sunday",
    *(word.lower() for name in FESTIVALS for word in name.split()),
}
YEAR_NAME_HEADS = {"Plan", "Notes", "Equity", "Credit", "Senior", "Convertible", "Stock",
                   "Omnibus", "Term", "Restructuring", "Employee", "Share", "Revolving", "Act",
                   "Bonds", "Debentures", "Incentive", "Facility", "Agreement", "Program",
                   "Programme", "Indenture", "Warrants", "Long"}


def is_money_shaped(span: Span) -> bool:
    """"₹5,000", "Rs. 250/-", "2.5 lakh", "$ 41.7 million", "1500"; not "Form 8", "800 shares"."""
    return any(c.isdigit() for c in span.text) and all(
        AMOUNT_TOKEN.match(t.text) or t.lower_ in MONEY_WORDS or set(t.text) <= CURRENCY_SYMBOLS
        for t in span
    )


def has_date_cue(span: Span) -> bool:
    return any(t.lower_.rstrip(".") in DATE_WORDS or DATE_SHAPE.match(t.lower_) for t in span)


def is_year_used_as_name(span: Span) -> bool:
    following = span.doc[span.end] if span.end < len(span.doc) else None
    return (len(span) == 1 and bool(re.fullmatch(r"(19|20)\d{2}", span.text))
            and following is not None and following.text in YEAR_NAME_HEADS)


def plausible(span: Span) -> bool:
    if all(t.is_punct for t in span):
        return False
    if span.label_ == "MONEY":
        return is_money_shaped(span)
    if span.label_ == "DATE":
        return has_date_cue(span) and not is_year_used_as_name(span)
    return True


@Language.component("entity_sanity")
def entity_sanity(doc: Doc) -> Doc:
    doc.ents = [e for e in doc.ents if plausible(e)]
    return doc
