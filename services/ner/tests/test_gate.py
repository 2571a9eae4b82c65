"""`entity_sanity`: MONEY and DATE spans survive only in plausible shapes, whoever proposed them."""

import pytest

from services.ner.gate import entity_sanity, plausible
from services.ner.generator import generate
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


def kept(nlp, text: str, piece: str, label: str) -> list[str]:
    """Sets one span on the doc (as the `ner` would), then runs the gate."""
    doc = nlp.make_doc(text)
    start = text.index(piece)
    doc.ents = [doc.char_span(start, start + len(piece), label)]
    return [e.text for e in entity_sanity(doc).ents]


@pytest.mark.parametrize(
    ("text", "span", "label", "keep"),
    [
        ("Paid ₹500 at DMart", "₹500", "MONEY", True),
        ("Paid Rs. 1,20,000/- today", "Rs. 1,20,000/-", "MONEY", True),
        ("Sold for $ 41.7 million", "$ 41.7 million", "MONEY", True),
        ("Filled petrol for 1500 on Monday", "1500", "MONEY", True),
        ("Filled petrol for 2.5 lakh", "2.5 lakh", "MONEY", True),
        ("See Form 8 for details", "Form 8", "MONEY", False),
        ("We sold 800,000 shares", "800,000 shares", "MONEY", False),
        ("Paid some rupees", "some rupees", "MONEY", False),
        ("SIP goes out on the 5th", "5th", "DATE", True),
        ("Paid rent on friday", "friday", "DATE", True),
        ("Results for Q3 FY24", "Q3 FY24", "DATE", True),
        ("The financial results improved", "financial results", "DATE", False),
        ("Listed on the NYSE", "NYSE", "DATE", False),
        ("Exhibit 10.21 Indenture", "10.21 Indenture", "DATE", False),
        ("Save until Raksha Bandhan", "Raksha Bandhan", "DATE", True),
        ("Rent paid", "Rent", "CATEGORY", True),
        ("Hello !", "!", "MERCHANT", False),
    ],
)
def test_gate_keeps_only_plausible_spans(nlp, text, span, label, keep):
    assert kept(nlp, text, span, label) == ([span] if keep else [])


def test_gate_drops_no_ruler_span_but_years_used_as_names(nlp):
    """The ruler keeps the last word on regular shapes: the gate passes all it tags."""
    dropped = [
        (e.text, e.doc[e.end].text)
        for s in generate(1500, seed=9, formal_share=0.5)
        for e in _ruled(nlp, s.text).ents if not plausible(e)
    ]
    assert dropped and all(text.isdigit() and name[0].isupper() for text, name in dropped)


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
