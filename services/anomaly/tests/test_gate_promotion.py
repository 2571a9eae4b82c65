"""The promotion gate on the anomaly model: the stream replays through fresh profiles, and a
model passes against itself."""

from __future__ import annotations

from kit.artifacts import ArtifactStore
from kit.gate import evaluate_release, read_holdout
from services.anomaly.promotion import golden_rows


def test_the_golden_stream_judges_its_last_week():
    rows = golden_rows()
    judged = [r for r in rows if r["scored"]]
    assert 500 < len(judged) < len(rows)
    assert sum(r["fraud"] for r in judged) >= 10
    assert rows == sorted(rows, key=lambda r: r["timestamp"])


def test_a_model_passes_against_itself(model_dir, artifact_path):
    artifact = ArtifactStore(model_dir, "anomaly").load(artifact_path.name)
    stream = read_holdout(artifact)
    assert len(stream) == artifact.manifest["holdout_file"]["of"]
    assert sum(r["scored"] for r in stream) == artifact.manifest["windows"]["test"]["rows"]
    result = evaluate_release("anomaly", artifact, artifact)
    assert result.passed, result.table()
    assert [(r.set, r.metric) for r in result.rows] == [("holdout", "average_precision"),
                                                        ("golden", "average_precision")]
    assert all(r.candidate > 0 and r.difference == 0 for r in result.rows)
