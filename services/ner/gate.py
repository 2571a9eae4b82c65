"""`entity_sanity`: the last pipeline step, which keeps only spans that can be entities.

The entity ruler owns the regular shapes of MONEY and DATE. The trained `ner` may add the ones
that need context ("for 1500" after a payment verb, "on the 5th", a festival it has not seen),
but on text unlike its training data it also tags headings, tickers and counts; so a MONEY span
from the `ner` must be a bare amount and a DATE span from it must contain a date word or shape.
Years used as names ("the 2019 Plan", "2022 Notes") are not dates.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc, Span

RULER_ID = "ruler"  # the `id` of every ruler pattern; spans keep it as `ent_id_`
AMOUNT_TOKEN = re.compile(r"^(\d{1,3}(,\d{2,3})+|\d+)(\.\d+)?$|^\.\d+$")
AMOUNT_WORDS = {"k", "lakh", "lakhs", "lac", "lacs", "l", "crore", "crores", "cr", "thousand",
                "million", "mn", "billion", "bn"}
DATE_SHAPE = re.compile(
    r"^(\d{1,2}(st|nd|rd|th)|(19|20)\d{2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})$"
)
DATE_WORDS = {
    "today", "yesterday", "tomorrow", "tonight", "night", "morning", "evening", "afternoon",
    "day", "days", "week", "weeks", "weekend", "fortnight", "month", "months", "quarter",
    "quarters", "year", "years", "fy", "q1", "q2", "q3", "q4", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}
YEAR_NAME_HEADS = {"Plan", "Notes", "Equity", "Credit", "Senior", "Convertible", "Stock",
                   "Omnibus", "Term", "Restructuring", "Employee", "Share", "Revolving", "Act",
                   "Bonds", "Debentures", "Incentive", "Facility", "Agreement", "Program",
                   "Programme", "Indenture", "Warrants", "Long"}


def from_ruler(span: Span) -> bool:
    return span.ent_id_ == RULER_ID


def is_bare_amount(span: Span) -> bool:
    return all(AMOUNT_TOKEN.match(t.text) or t.lower_ in AMOUNT_WORDS for t in span)


def has_date_cue(span: Span) -> bool:
    return any(t.lower_ in DATE_WORDS or DATE_SHAPE.match(t.lower_) for t in span)


def is_year_used_as_name(span: Span) -> bool:
    following = span.doc[span.end] if span.end < len(span.doc) else None
    return (len(span) == 1 and bool(re.fullmatch(r"(19|20)\d{2}", span.text))
            and following is not None and following.text in YEAR_NAME_HEADS)


def plausible(span: Span) -> bool:
    if all(t.is_punct for t in span):
        return False
    if span.label_ == "MONEY":
        return any(c.isdigit() for c in span.text) and (from_ruler(span) or is_bare_amount(span))
    if span.label_ == "DATE":
        if is_year_used_as_name(span):
            return False
        return from_ruler(span) or has_date_cue(span)
    return True


@Language.component("entity_sanity")
def entity_sanity(doc: Doc) -> Doc:
    doc.ents = [e for e in doc.ents if plausible(e)]
    return doc
