"""The generator, the hand-written set, the FIRE loader and the span scorer."""

import pytest

from services.ner.data import FIRE_DEV, LABELS, generate, load_eval_set, load_fire, parse_markup
from services.ner.evaluate import score_spans
from services.ner.patterns import blank_pipeline
from services.ner.train import to_examples


def test_markup_parses_to_offsets_that_slice_back():
    s = parse_markup("Paid [₹500](MONEY) at [DMart](MERCHANT) [today](DATE).")
    assert s.text == "Paid ₹500 at DMart today."
    assert [(s.text[a:b], label) for a, b, label in s.entities] == [
        ("₹500", "MONEY"), ("DMart", "MERCHANT"), ("today", "DATE")]


def test_generator_is_seeded_and_covers_every_label():
    first, again = generate(300, seed=3), generate(300, seed=3)
    assert first == again
    assert {label for s in first for *_, label in s.entities} == set(LABELS)


def test_eval_set_is_large_enough_and_apart_from_the_generator():
    eval_set = load_eval_set()
    assert len(eval_set) >= 150
    assert {label for s in eval_set for *_, label in s.entities} == set(LABELS)
    generated = {s.text for s in generate(5000)}
    assert not generated & {s.text for s in eval_set}


def test_generated_spans_align_with_tokens():
    sentences = generate(500)
    assert len(to_examples(blank_pipeline(), sentences)) >= 0.98 * len(sentences)


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
