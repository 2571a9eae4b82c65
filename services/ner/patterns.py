"""Tokenizer rules and entity-ruler patterns for the regular shapes of MONEY and DATE.

The ruler takes the unambiguous shapes ("₹5,000", "12 March 2024", "last month"); the trained
`ner` takes what needs context (a bare "2000" is an amount after "spent", a year after "in").
"""

from __future__ import annotations

from typing import Any

import spacy
from spacy.language import Language
from spacy.util import compile_prefix_regex, compile_suffix_regex

from services.ner.gate import entity_sanity  # noqa: F401  (registers the component)
from services.ner.lexicons import FESTIVALS
from services.ner.merchants import make_merchant_lexicon  # noqa: F401  (registers the component)

CURRENCY_PREFIXES = ["₹", "rs", "rs.", "inr", "$", "us$", "usd", "€", "eur", "£", "gbp", "rmb"]
CURRENCY_WORDS = ["rupees", "rupee", "rs", "rs.", "inr", "/-", "dollars", "dollar", "usd", "bucks",
                  "euros", "euro", "eur", "pounds", "gbp"]
INDIAN_MULTIPLIERS = ["k", "lakh", "lakhs", "lac", "lacs", "l", "crore", "crores", "cr"]
MULTIPLIERS = [*INDIAN_MULTIPLIERS, "thousand", "million", "mn", "m", "billion", "bn", "b"]

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
          "sep", "sept", "oct", "nov", "dec", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.",
          "aug.", "sep.", "sept.", "oct.", "nov.", "dec."]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
RELATIVE = ["last", "this", "next", "previous", "coming", "current", "past"]
PERIODS = ["week", "month", "year", "quarter", "weekend", "fortnight", "fy"]
PLURAL_UNITS = ["days", "weeks", "months", "years", "quarters", "day", "week", "month", "year"]
COUNT_WORDS = ["a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
               "ten", "eleven", "twelve", "few", "couple"]

NUMBER = {"TEXT": {"REGEX": r"^(\d{1,3}(,\d{2,3})+|\d+)(\.\d+)?$|^\.\d+$"}}
DAY = {"LOWER": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])(st|nd|rd|th)?$"}}
YEAR = {"TEXT": {"REGEX": r"^(19|20)\d{2}$"}}
MONTH = {"LOWER": {"IN": MONTHS}}
COMMA = {"ORTH": ",", "OP": "?"}


# A narrow, shallow tok2vec (width 32, depth 2): sentences are short and the latency goal is
# ≤ 2 ms a sentence (the trade against width 64 / depth 3 is measured in docs/ner.md).
NER_MODEL = {
    "@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner",
    "extra_state_tokens": False, "hidden_width": 32, "maxout_pieces": 2, "use_upper": True,
    "tok2vec": {
        "@architectures": "spacy.HashEmbedCNN.v2", "pretrained_vectors": None, "width": 32,
        "depth": 2, "embed_size": 2000, "window_size": 1, "maxout_pieces": 2,
        "subword_features": True,
    },
}


def customise_tokenizer(nlp: Language) -> None:
    """Split "Rs.250", "500rs", "5k", "2.5cr" so entity edges fall on token edges."""
    prefixes = [*nlp.Defaults.prefixes, r"(?i:rs\.?|inr|rmb|us\$)(?=\d)"]
    units = "|".join(["k", "cr", "crores?", "lakhs?", "lacs?", "l", "rs", "mn", "bn", "/-"])
    suffixes = [*nlp.Defaults.suffixes, rf"(?<=\d)(?i:{units})"]
    nlp.tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search


def money_patterns() -> list[list[dict[str, Any]]]:
    prefix = {"LOWER": {"IN": CURRENCY_PREFIXES}}
    dot = {"ORTH": ".", "OP": "?"}
    multiplier = {"LOWER": {"IN": MULTIPLIERS}, "OP": "?"}
    word = {"LOWER": {"IN": CURRENCY_WORDS}}
    per_unit = [{"LOWER": "per"}, {"LOWER": {"IN": ["share", "ton", "tonne", "unit", "barrel"]}}]
    return [
        [prefix, dot, NUMBER, multiplier],
        [prefix, dot, NUMBER, multiplier, *per_unit],
        [prefix, dot, NUMBER, multiplier, word],
        [NUMBER, multiplier, word],
        [NUMBER, {"LOWER": {"IN": INDIAN_MULTIPLIERS}}],
        [NUMBER, {"LOWER": {"IN": INDIAN_MULTIPLIERS}}, word],
    ]


def _absolute_date_patterns() -> list[list[dict[str, Any]]]:
    numeric = r"^\d{1,2}[/.]\d{1,2}[/.](\d{4}|\d{2})$|^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}$"
    two = {"TEXT": {"REGEX": r"^\d{1,2}$"}}
    four = {"TEXT": {"REGEX": r"^\d{4}$"}}
    dash = {"ORTH": {"IN": ["-", "/", "."]}}
    month_only = {"LOWER": {"IN": [m for m in MONTHS if m not in ("may", "mar")]}}
    return [
        [{"TEXT": {"REGEX": numeric}}],
        [four, dash, two, dash, two],
        [two, dash, two, dash, four],
        [DAY, {"LOWER": "of", "OP": "?"}, MONTH],
        [DAY, {"LOWER": "of", "OP": "?"}, MONTH, COMMA, YEAR],
        [MONTH, DAY],
        [MONTH, DAY, COMMA, YEAR],
        [MONTH, {"LOWER": "of", "OP": "?"}, COMMA, YEAR],
        [month_only],
        [{"ORTH": {"IN": ["May", "Mar", "Mar."]}}],
    ]


def _relative_date_patterns() -> list[list[dict[str, Any]]]:
    relative = {"LOWER": {"IN": RELATIVE}}
    window = {"LOWER": {"IN": ["last", "past", "previous", "next", "coming"]}}
    units = {"LOWER": {"IN": PLURAL_UNITS}}
    count = {"LOWER": {"IN": COUNT_WORDS}}
    digits = {"TEXT": {"REGEX": r"^\d{1,3}$"}}
    quarter = {"LOWER": {"REGEX": r"^q[1-4]$"}}
    fy = {"LOWER": {"REGEX": r"^fy\d{2}(\d{2})?$"}}
    return [
        [{"LOWER": {"IN": ["today", "yesterday", "tomorrow", "tonight"]}}],
        [{"TEXT": {"REGEX": r"^(199\d|20(0[1-9]|[1-3]\d))$"}}],
        [{"LOWER": "day"}, {"LOWER": {"IN": ["before", "after"]}},
         {"LOWER": {"IN": ["yesterday", "tomorrow"]}}],
        [relative, {"LOWER": {"IN": [*PERIODS, *WEEKDAYS, *MONTHS]}}],
        [relative, {"LOWER": "financial"}, {"LOWER": "year"}],
        [{"LOWER": {"IN": ["last", "this"]}},
         {"LOWER": {"IN": ["night", "morning", "afternoon", "evening"]}}],
        [window, digits, units], [window, count, units],
        [digits, units, {"LOWER": "ago"}], [count, units, {"LOWER": "ago"}],
        [{"LOWER": {"IN": WEEKDAYS}, "IS_TITLE": True}],
        [quarter], [quarter, YEAR], [quarter, fy], [quarter, {"LOWER": "fy"}, YEAR],
        [fy], [fy, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^\d{2}$"}}],
        [{"LOWER": "fy"}, YEAR],
        [{"LOWER": "fy"}, YEAR, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^\d{2}(\d{2})?$"}}],
        [{"LOWER": {"IN": ["fiscal", "financial"]}}, {"LOWER": "year", "OP": "?"}, YEAR],
        [YEAR, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^(\d{2}|(19|20)\d{2})$"}}],
        [{"LOWER": {"IN": ["early", "mid", "late"]}}, {"ORTH": "-", "OP": "?"}, YEAR],
        [{"LOWER": {"IN": ["first", "second", "third", "fourth"]}}, {"ORTH": "-", "OP": "?"},
         {"LOWER": "quarter"}, {"LOWER": "of", "OP": "?"}, YEAR],
    ]


def date_patterns() -> list[list[dict[str, Any]]]:
    """Absolute and relative shapes, each also behind "(fiscal) year ended" as in annual reports."""
    absolute = _absolute_date_patterns()
    ended = [{"LOWER": "fiscal", "OP": "?"},
             {"LOWER": {"IN": ["year", "years", "quarter", "quarters", "month", "months"]}},
             {"LOWER": "ended"}]
    full_dates = [p for p in absolute if any(t is YEAR for t in p)]
    return [*absolute, *_relative_date_patterns(), *[[*ended, *p] for p in full_dates]]


def festival_patterns() -> list[list[dict[str, Any]]]:
    return [[{"LOWER": word.lower()} for word in name.split()] for name in FESTIVALS]


def ruler_patterns() -> list[dict[str, Any]]:
    return [
        *({"label": "MONEY", "pattern": p} for p in money_patterns()),
        *({"label": "DATE", "pattern": p} for p in [*date_patterns(), *festival_patterns()]),
    ]


def blank_pipeline() -> Language:
    """`spacy.blank("en")` with our tokenizer rules, a ruler, an untrained `ner`, the merchant
    lexicon and the sanity gate."""
    nlp = spacy.blank("en")
    customise_tokenizer(nlp)
    nlp.add_pipe("entity_ruler", config={"overwrite_ents": False})
    nlp.add_pipe("ner", config={"model": NER_MODEL})
    nlp.add_pipe("merchant_lexicon")
    nlp.add_pipe("entity_sanity")
    return nlp
