"""`bench.intent_finetune` end to end on a slice of Banking77 (every 25th text, one epoch): the
experiment script behind a result in docs/intent.md must keep running and scoring."""

import json

import pytest

from bench import intent_finetune


def test_a_small_fine_tune_runs_and_scores(capsys):
    if not (intent_finetune.BANKING77 / "train.csv").exists():
        pytest.skip(f"no Banking77 at {intent_finetune.BANKING77} (see ../shared/data)")
    pytest.importorskip("torch")
    grid = json.dumps({"tiny": {"lr": 1e-4, "epochs": 1, "head": "cos"}})
    assert intent_finetune.main(["--every", "25", "--grid", grid, "--device", "cpu"]) == 0
    runs = {r["run"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(runs) == {"frozen", "tiny"}
    assert runs["frozen"]["test_accuracy"] > 0.5  # 77 classes: chance is 0.013
    assert runs["tiny"]["test_accuracy"] > 0.5
    assert runs["tiny"]["config"]["epochs"] == 1
