"""The promotion gate on the spending model: the holdout forecasts as training scored them, and
a model passes against itself."""

from __future__ import annotations

from kit.artifacts import ArtifactStore
from kit.gate import evaluate_release, read_holdout
from services.spending.promotion import golden_rows


def test_golden_series_are_fixed():
    series = golden_rows()
    assert len(series) == 16
    assert all(len(s["actual"]) == 3 and len(s["history"]) >= 6 for s in series)


def test_a_model_passes_against_itself(model_dir):
    artifact = ArtifactStore(model_dir, "spending").load()
    holdout = read_holdout(artifact)
    assert len(holdout) == artifact.manifest["parameters"]["training"]["users"]
    assert all(len(r["actual"]) == 3 for r in holdout)
    assert any("as_of" in r for r in holdout)  # short histories travel as daily totals
    result = evaluate_release("spending", artifact, artifact)
    assert result.passed, result.table()
    assert [(r.set, r.metric) for r in result.rows] == [("holdout", "smape"),
                                                        ("golden", "smape")]
    assert all(0 < r.candidate < 60 for r in result.rows)
