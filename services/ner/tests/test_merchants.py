"""The merchant lexicon step: known names become MERCHANT whatever the `ner` proposed."""

from __future__ import annotations

import spacy

from services.ner.merchants import MerchantLexicon
from services.ner.patterns import customise_tokenizer


def nlp_and_step():
    nlp = spacy.blank("en")
    customise_tokenizer(nlp)
    return nlp, MerchantLexicon(nlp)


def spans(doc, *labelled_texts):
    """Entities given as (text, label), found by their first occurrence in the doc."""
    return [doc.char_span(doc.text.index(text), doc.text.index(text) + len(text), label)
            for text, label in labelled_texts]


def labelled(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_a_known_merchant_the_ner_called_a_category_becomes_merchant():
    nlp, step = nlp_and_step()
    doc = nlp.make_doc("Paid Rs. 640 to Zomato using my HDFC credit card")
    doc.ents = spans(doc, ("Rs. 640", "MONEY"), ("Zomato", "CATEGORY"),
                     ("HDFC credit card", "ACCOUNT"))
    assert labelled(step(doc)) == [("Rs. 640", "MONEY"), ("Zomato", "MERCHANT"),
                                   ("HDFC credit card", "ACCOUNT")]


def test_a_known_merchant_the_ner_missed_is_added_and_overlaps_are_replaced():
    nlp, step = nlp_and_step()
    doc = nlp.make_doc("ordered from swiggy and Reliance Digital")
    doc.ents = spans(doc, ("Reliance", "MERCHANT"))
    assert labelled(step(doc)) == [("swiggy", "MERCHANT"), ("Reliance Digital", "MERCHANT")]


def test_the_longest_known_name_wins_and_case_variants_match():
    nlp, step = nlp_and_step()
    doc = step(nlp.make_doc("AMAZON PRIME renewed, then Domino's"))
    assert labelled(doc) == [("AMAZON PRIME", "MERCHANT"), ("Domino's", "MERCHANT")]


def test_account_products_and_everyday_words_are_left_alone():
    nlp, step = nlp_and_step()
    doc = nlp.make_doc("paid with my Amazon Pay card for an apple")
    doc.ents = spans(doc, ("Amazon Pay card", "ACCOUNT"))
    assert labelled(step(doc)) == [("Amazon Pay card", "ACCOUNT")]
    assert labelled(step(nlp.make_doc("bought an Apple watch"))) == [("Apple", "MERCHANT")]
