"""Honest confidence: the served confidences' ECE on the holdout, a temperature that never moves
the top label, and the out-of-scope operating point the user chooses (`--oos-target`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kit.calibration import expected_calibration_error
from kit.gate import read_holdout
from services.intent.data import Dataset, LabelledTexts, shipped_dataset
from services.intent.head import LinearHead
from services.intent.train import (
    CANDIDATES,
    choose_threshold,
    main,
    operating_point,
    train,
)

LABELS = ["a", "b", "out_of_scope"]
# Validation rows: top probability of each, its label, and the truth. Thresholds between the
# rows' top probabilities flag more and more of them out of scope.
TOPS = [(0.95, "a", "a"), (0.9, "b", "b"), (0.7, "a", "a"), (0.6, "a", "out_of_scope"),
        (0.55, "b", "b"), (0.5, "b", "out_of_scope"), (0.4, "a", "out_of_scope"),
        (0.9, "out_of_scope", "out_of_scope")]


def validation_rows() -> tuple[np.ndarray, list[str]]:
    probs = []
    for top, label, _ in TOPS:
        row = np.full(3, (1 - top) / 2)
        row[LABELS.index(label)] = top
        probs.append(row)
    return np.array(probs), [truth for *_, truth in TOPS]


def test_a_recall_target_takes_the_best_in_scope_accuracy_that_meets_it():
    probs, truth = validation_rows()
    threshold, curve = choose_threshold(probs, truth, LABELS, "out_of_scope", ("recall", 0.75))
    at = next(r for r in curve if r["threshold"] == threshold)
    assert at["out_of_scope_recall"] >= 0.75
    assert 0.5 < threshold <= 0.55  # flags 0.5 and 0.4 (recall 0.75) but not 0.55 (in scope)
    assert at["in_scope_accuracy"] == 1.0
    point = operating_point(curve, threshold, ("recall", 0.75))
    assert point["target"] == "recall=0.75" and point["met"] is True


def test_a_precision_target_takes_the_best_recall_that_keeps_it():
    probs, truth = validation_rows()
    threshold, curve = choose_threshold(probs, truth, LABELS, "out_of_scope",
                                        ("precision", 0.99))
    at = next(r for r in curve if r["threshold"] == threshold)
    assert at["out_of_scope_precision"] >= 0.99
    assert at["out_of_scope_recall"] == 0.75  # one more flag (0.55, in scope) costs precision
    default, _ = choose_threshold(probs, truth, LABELS, "out_of_scope")
    assert operating_point(curve, default, None)["target"] is None


def test_an_unreachable_target_takes_the_closest_and_says_so():
    # An out-of-scope text answered `a` at 0.995: no threshold on the grid (≤ 0.99) flags it.
    probs = np.array([[0.995, 0.0025, 0.0025], [0.8, 0.1, 0.1]])
    truth = ["out_of_scope", "a"]
    threshold, curve = choose_threshold(probs, truth, LABELS, "out_of_scope", ("recall", 0.9))
    point = operating_point(curve, threshold, ("recall", 0.9))
    assert point["met"] is False and threshold <= 0.8  # in-scope accuracy kept
    assert point["validation"]["in_scope_accuracy"] == 1.0
    probs, truth = validation_rows()
    threshold, curve = choose_threshold(probs, truth, LABELS, "out_of_scope", ("recall", 1.0))
    assert operating_point(curve, threshold, ("recall", 1.0))["met"] is True
    assert threshold > 0.6  # recall 1 needs the 0.6 row flagged too


@pytest.mark.parametrize("text", ["recall", "recall=", "f1=0.9", "recall=0", "precision=1.2",
                                  "recall=x"])
def test_bad_targets_are_refused_by_the_cli(text, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--oos-target", text, "--model-dir", str(tmp_path)])
    assert exit_.value.code == 2 and "--oos-target" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def served_holdout(model, artifact) -> tuple[list[dict], list[str]]:
    rows = read_holdout(artifact)
    answers = model.predict([{"text": r["text"]} for r in rows])
    return answers, [r["label"] for r in rows]


def test_served_confidences_are_calibrated_on_the_holdout(intent_model, artifact):
    answers, truth = served_holdout(intent_model, artifact)
    confidence = np.array([a["confidence"] for a in answers])
    right = np.array([a["label"] for a in answers]) == np.array(truth)
    ece = expected_calibration_error(confidence, right)
    assert ece <= 0.05
    calibration = artifact.manifest["calibration"]
    assert ece == pytest.approx(calibration["holdout_after"]["ece"], abs=1e-3)  # 4 decimals
    assert artifact.manifest["metrics"]["ece"] == calibration["holdout_after"]["ece"]
    assert calibration["holdout_after"]["bins"] == 15
    report = (artifact.path / "report.md").read_text()
    assert "## Calibration (holdout)" in report and "15 equal-width bins" in report
    assert (artifact.path / "reliability.png").stat().st_size > 0


def test_the_temperature_never_changes_the_top_label(intent_model, artifact):
    texts = [r["text"] for r in read_holdout(artifact)]
    head: LinearHead = intent_model.head
    assert head.temperature != 1.0
    embeddings = intent_model.encoder.encode(texts)
    tempered = head.probabilities(embeddings, texts)
    untempered = LinearHead.load(artifact.path)
    untempered.temperature = 1.0
    plain = untempered.probabilities(embeddings, texts)
    assert (tempered.argmax(axis=1) == plain.argmax(axis=1)).all()
    assert not np.allclose(tempered, plain)
    assert artifact.manifest["calibration"]["argmax_unchanged"] is True


def test_the_report_gives_in_scope_and_out_of_scope_with_and_without_the_threshold(artifact):
    manifest = artifact.manifest
    without = manifest["metrics"]["without_threshold"]
    assert {"in_scope_accuracy", "out_of_scope_recall", "out_of_scope_precision"} <= set(without)
    point = manifest["out_of_scope"]
    assert point["target"] is None and point["threshold"] == manifest["parameters"][
        "out_of_scope_threshold"]
    assert point["holdout"]["out_of_scope_recall"] == manifest["metrics"]["out_of_scope_recall"]
    report = (artifact.path / "report.md").read_text()
    assert "## Out-of-scope operating point" in report and "holdout, no threshold" in report


def small_dataset(per_label: int = 20) -> Dataset:
    """The shipped labels with a few training texts each (a fast fit), the full holdout."""
    full = shipped_dataset()
    seen: dict[str, int] = {}
    texts, labels = [], []
    for text, label in zip(full.train.texts, full.train.labels, strict=True):
        if seen.get(label, 0) < per_label:
            seen[label] = seen.get(label, 0) + 1
            texts.append(text)
            labels.append(label)
    return replace(full, name="shipped-small", train=LabelledTexts(texts, labels))


def test_the_chosen_operating_point_is_stored_and_served(encoder_dir, tmp_path):
    from kit import ArtifactStore
    from services.intent.model import IntentModel
    from services.intent.settings import IntentSettings

    dataset = small_dataset()
    artifact = train(dataset, tmp_path, encoder_dir=encoder_dir, quantize=False,
                     check_parity=False, folds=3, progress=False, candidates=CANDIDATES[:1],
                     oos_target=("recall", 0.99))
    artifact = ArtifactStore(tmp_path, "intent").load(artifact.version)
    point = artifact.manifest["out_of_scope"]
    assert point["target"] == "recall=0.99"
    model = IntentModel(IntentSettings(model_dir=tmp_path))
    model.load(artifact)
    assert model.head.threshold == point["threshold"] > 0
    if point["met"]:
        assert point["validation"]["out_of_scope_recall"] >= 0.99
    answers, truth = served_holdout(model, artifact)
    flagged = np.array([a["label"] == "out_of_scope" for a in answers])
    oos = np.array(truth) == "out_of_scope"
    assert flagged[oos].mean() == pytest.approx(point["holdout"]["out_of_scope_recall"])
    assert "target **recall=0.99**" in (artifact.path / "report.md").read_text()
