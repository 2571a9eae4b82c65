import json
from pathlib import Path

from bench.shadow import candidate_model_dir, delta, parse_counts, production_version
from kit.registry import FileRegistry

METRICS = """# HELP finfleet_shadow_requests_total Shadow copies to the candidate, by outcome
# TYPE finfleet_shadow_requests_total counter
finfleet_shadow_requests_total{model="credit",outcome="sent"} 1234.0
finfleet_shadow_requests_total{model="credit",outcome="dropped"} 5.0
finfleet_shadow_requests_total{model="credit",outcome="remembered"} 7.0
finfleet_shadow_requests_total{model="anomaly",outcome="sent"} 99.0
finfleet_shadow_requests_created{model="credit",outcome="sent"} 1.7e+09
"""


def test_counts_are_read_per_outcome_for_the_model_only():
    assert parse_counts(METRICS) == {"sent": 1234, "remembered": 7, "dropped": 5, "failed": 0}
    assert parse_counts("") == {"sent": 0, "remembered": 0, "dropped": 0, "failed": 0}
    assert delta({"sent": 10, "remembered": 3, "dropped": 1, "failed": 0},
                 {"sent": 25, "remembered": 3, "dropped": 1, "failed": 2}) == {
        "sent": 15, "remembered": 0, "dropped": 0, "failed": 2}


def test_the_candidate_is_a_renamed_copy_in_another_dir_and_the_source_is_untouched(
        tmp_path: Path):
    source = tmp_path / "models"
    version_dir = source / "credit" / "20260101-000000"
    version_dir.mkdir(parents=True)
    (version_dir / "manifest.json").write_text(json.dumps({"version": "20260101-000000"}))
    (version_dir / "model.bin").write_bytes(b"weights")
    assert production_version(source) == "20260101-000000"  # no alias yet: the newest
    target = tmp_path / "shadow"
    candidate = candidate_model_dir(source, "20260101-000000", target)
    assert candidate == "20260101-000000-candidate"
    copied = target / "credit" / candidate
    assert json.loads((copied / "manifest.json").read_text())["version"] == candidate
    assert (copied / "model.bin").read_bytes() == b"weights"
    assert FileRegistry(target, "credit").aliases().aliases == {
        "production": "20260101-000000", "candidate": candidate}
    assert sorted(p.name for p in (source / "credit").iterdir()) == ["20260101-000000"]
    assert json.loads((version_dir / "manifest.json").read_text())["version"] == "20260101-000000"
