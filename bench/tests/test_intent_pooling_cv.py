"""`bench.intent_pooling_cv` on a slice of Banking77 (every 25th text, 3 folds): the experiment
script behind the pooling table in docs/intent.md must keep running and scoring."""

import json

import numpy as np
import pytest

from bench import intent_pooling_cv


def test_a_small_pooling_cv_runs_and_scores(capsys):
    if not (intent_pooling_cv.BANKING77 / "train.csv").exists():
        pytest.skip(f"no Banking77 at {intent_pooling_cv.BANKING77} (see ../shared/data)")
    pytest.importorskip("torch")
    assert intent_pooling_cv.main(["--every", "25", "--folds", "3"]) == 0
    rows = {r["mix"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == set(intent_pooling_cv.MIXES)
    for row in rows.values():  # 400 texts, 77 classes: chance is 0.013
        assert 0.3 < row["svm"] <= 1.0 and 0.3 < row["svm+memory"] <= 1.0


def test_pooled_vectors_are_unit_length_and_padding_never_wins_the_max():
    pytest.importorskip("torch")
    short, long = "hi", "please block my debit card, I think it was stolen at the station"
    together = intent_pooling_cv.poolings([short, long])
    alone = intent_pooling_cv.poolings([short])
    for key, vectors in together.items():
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(vectors[0], alone[key][0], atol=1e-4)  # padded = unpadded
