"""The generators, the hand-written set, the FIRE loader and the span scorer."""

import difflib
import re

import pytest

from services.ner import generator, lexicons
from services.ner.data import FIRE_DEV, LABELS, load_eval_set, load_fire, parse_markup
from services.ner.evaluation import score_spans
from services.ner.formal import TEMPLATES as FORMAL_TEMPLATES
from services.ner.generator import generate
from services.ner.patterns import blank_pipeline
from services.ner.train import add_ruler_patterns, to_examples


def test_markup_parses_to_offsets_that_slice_back():
    s = parse_markup("Paid [₹500](MONEY) at [DMart](MERCHANT) [today](DATE).")
    assert s.text == "Paid ₹500 at DMart today."
    assert [(s.text[a:b], label) for a, b, label in s.entities] == [
        ("₹500", "MONEY"), ("DMart", "MERCHANT"), ("today", "DATE")]


def test_generator_is_seeded_and_covers_every_label():
    first, again = generate(300, seed=3), generate(300, seed=3)
    assert first == again
    assert {label for s in first for *_, label in s.entities} == set(LABELS)


def test_formal_sentences_hold_money_and_dates_next_to_plain_numbers():
    sentences = generate(300, seed=3, formal_share=1.0)
    assert {label for s in sentences for *_, label in s.entities} == {"MONEY", "DATE"}
    spans = [s.text[a:b] for s in sentences for a, b, _ in s.entities]
    assert not [t for t in spans if t.startswith(("the ", "approximately ", "about "))]
    untagged = {"percentages": r"\d+(\.\d+)? ?(%|percent)", "year names": r"(19|20)\d{2} [A-Z]"}
    for kind, pattern in untagged.items():
        found = [(s, m) for s in sentences for m in re.finditer(pattern, s.text)]
        assert found, kind
        for s, m in found:
            assert not any(a < m.end() and m.start() < b for a, b, _ in s.entities), s.text


def test_category_spans_leave_out_trailing_bill_and_loan_kind():
    sentences = generate(3000, seed=4)
    categories = {s.text[a:b].lower() for s in sentences for a, b, label in s.entities
                  if label == "CATEGORY"}
    lexicon = {c.lower() for c in lexicons.CATEGORIES}
    assert categories <= lexicon
    assert "electricity bill" not in categories and "loan emi" not in categories
    trailers = tuple(f" {t} " for t in lexicons.CATEGORY_TRAILERS)
    followed = [s.text[b:b + 12] for s in sentences for _, b, label in s.entities
                if label == "CATEGORY" and s.text[b:].startswith(trailers)]
    assert len(followed) > 50  # "[electricity] bill", "[gym] fees": the trailer left outside
    assert "loan emi" in " ".join(s.text.lower() for s in sentences)


def test_eval_set_is_large_enough_and_apart_from_the_generator():
    eval_set = load_eval_set()
    assert len(eval_set) >= 150
    assert {label for s in eval_set for *_, label in s.entities} == set(LABELS)
    generated = {s.text for s in generate(5000)}
    assert not generated & {s.text for s in eval_set}


def _skeleton(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


def test_no_template_copies_the_shape_of_a_hand_written_sentence():
    """Templates with slots blanked vs hand-written sentences with entities blanked."""
    eval_shapes = []
    for s in load_eval_set():
        text = s.text
        for a, b, _ in sorted(s.entities, reverse=True):
            text = f"{text[:a]} SLOT {text[b:]}"
        eval_shapes.append(_skeleton(text))
    for template in generator.TEMPLATES + FORMAL_TEMPLATES:
        shape = _skeleton(re.sub(r"\{\w+\}", " SLOT ", template))
        closest = max(difflib.SequenceMatcher(None, shape, e).ratio() for e in eval_shapes)
        assert closest < 0.95, template


def test_generated_spans_align_with_tokens():
    sentences = generate(500)
    assert len(to_examples(blank_pipeline(), sentences)) >= 0.98 * len(sentences)


def test_ruler_agrees_with_the_generator_on_money_and_date_edges():
    """Where the ruler tags a span, the generated annotation has the very same span."""
    nlp = blank_pipeline()
    add_ruler_patterns(nlp)
    sentences = generate(1500, seed=11)
    tagged = disagree = 0
    for sentence, doc in zip(sentences, nlp.pipe((s.text for s in sentences), disable=["ner"]),
                             strict=True):
        gold = set(sentence.entities)
        for e in doc.ents:
            tagged += 1
            disagree += (e.start_char, e.end_char, e.label_) not in gold
    assert tagged > 1000
    assert disagree <= 0.005 * tagged


def test_fire_loader_keeps_money_and_date_only():
    if not FIRE_DEV.is_file():
        pytest.skip(f"FIRE dev not found at {FIRE_DEV}")
    sentences = load_fire()
    assert len(sentences) == 454
    labels = {label for s in sentences for *_, label in s.entities}
    assert labels == {"MONEY", "DATE"}
    s = next(s for s in sentences if s.entities)
    a, b, _ = s.entities[0]
    assert s.text[a:b] == s.text[a:b].strip() and s.text[a:b]


def test_scorer_exact_and_overlap():
    gold = [[(0, 4, "MONEY"), (10, 15, "DATE")]]
    pred = [[(0, 4, "MONEY"), (9, 15, "DATE"), (20, 25, "MERCHANT")]]
    result = score_spans(gold, pred, ("MONEY", "DATE", "MERCHANT"))
    assert result["exact"]["MONEY"]["f1"] == 1.0
    assert result["exact"]["DATE"]["f1"] == 0.0
    assert result["overlap"]["DATE"]["f1"] == 1.0
    assert result["exact"]["micro"]["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["exact"]["micro"]["recall"] == 0.5
