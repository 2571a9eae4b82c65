"""`entity_sanity`: ruler spans stay, the `ner`'s MONEY/DATE spans only in plausible shapes."""

import pytest
from spacy.tokens import Span

from services.ner.gate import RULER_ID, entity_sanity
from services.ner.patterns import blank_pipeline
from services.ner.train import add_ruler_patterns


@pytest.fixture(scope="module")
def nlp():
    pipeline = blank_pipeline()
    add_ruler_patterns(pipeline)
    return pipeline


def _ruled(nlp, text: str):
    """The ruler alone (the `ner` is not trained here)."""
    return nlp.get_pipe("entity_ruler")(nlp.make_doc(text))


def kept(nlp, text: str, spans: list[tuple[str, str, bool]]) -> list[str]:
    """Sets the given (text, label, from_ruler) spans on the doc, then runs the gate."""
    doc = nlp.make_doc(text)
    ents = []
    for piece, label, ruler in spans:
        start = text.index(piece)
        span = doc.char_span(start, start + len(piece), label)
        ents.append(Span(doc, span.start, span.end, label, span_id=RULER_ID if ruler else 0))
    doc.ents = ents
    return [e.text for e in entity_sanity(doc).ents]


@pytest.mark.parametrize(
    ("text", "span", "label", "ruler", "keep"),
    [
        ("Paid ₹500 at DMart", "₹500", "MONEY", True, True),
        ("Filled petrol for 1500 on Monday", "1500", "MONEY", False, True),
        ("Filled petrol for 2.5 lakh", "2.5 lakh", "MONEY", False, True),
        ("See Form 8 for details", "Form 8", "MONEY", False, False),
        ("We sold 800,000 shares", "800,000 shares", "MONEY", False, False),
        ("Paid some rupees", "some rupees", "MONEY", False, False),
        ("SIP goes out on the 5th", "5th", "DATE", False, True),
        ("Paid rent on friday", "friday", "DATE", False, True),
        ("The financial results improved", "financial results", "DATE", False, False),
        ("Listed on the NYSE", "NYSE", "DATE", False, False),
        ("Exhibit 10.21 Indenture", "10.21 Indenture", "DATE", False, False),
        ("Save until Diwali", "Diwali", "DATE", True, True),
        ("Rent paid", "Rent", "CATEGORY", False, True),
        ("Hello !", "!", "MERCHANT", False, False),
    ],
)
def test_gate_keeps_only_plausible_spans(nlp, text, span, label, ruler, keep):
    assert kept(nlp, text, [(span, label, ruler)]) == ([span] if keep else [])


def test_years_used_as_names_are_not_dates(nlp):
    text = "Awards under the 2019 Equity Incentive Plan vested in 2021 and 2022 Notes were repaid"
    assert [e.text for e in entity_sanity(_ruled(nlp, text)).ents] == ["2021"]


@pytest.mark.parametrize(
    ("text", "money", "dates"),
    [
        ("Net sales rose 12.5% to approximately $1.2 billion in fiscal 2019.",
         ["$1.2 billion"], ["fiscal 2019"]),
        ("As of December 31, 2019, 4,300 employees held 1,250,000 shares.",
         [], ["December 31, 2019"]),
        ("Revenue for the year ended March 31, 2020 was Rs 4,500 crore.",
         ["Rs 4,500 crore"], ["year ended March 31, 2020"]),
        ("Results for the third quarter of 2019 are in Note 7.", [], ["third quarter of 2019"]),
        ("Bought gold worth ₹45,000 on Dhanteras", ["₹45,000"], ["Dhanteras"]),
    ],
)
def test_ruler_and_gate_on_report_and_festival_text(nlp, text, money, dates):
    doc = entity_sanity(_ruled(nlp, text))
    assert [e.text for e in doc.ents if e.label_ == "MONEY"] == money
    assert [e.text for e in doc.ents if e.label_ == "DATE"] == dates
