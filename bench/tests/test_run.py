from pathlib import Path

from bench.fleet import Fleet
from bench.points import Point
from bench.run import measure, parse_args


def test_no_run_starts_past_the_deadline(tmp_path: Path):
    fleet = Fleet(tmp_path, tmp_path)
    point = Point("credit", "credit", "/v1/models/credit:predict", 1, 1)
    runs = measure([(point, "http://127.0.0.1:9/x", tmp_path / "body.json")], seconds=2,
                   repeats=3, fleet=fleet, deadline=0.0)
    assert runs == {point.key: []}
    assert fleet.skipped[0]["what"] == "3 of 3 runs"
    assert "--budget-s" in fleet.skipped[0]["reason"]


def test_defaults_bound_each_mode_and_only_a_full_run_rewrites_results_md():
    full, quick = parse_args([]), parse_args(["--quick"])
    assert (full.budget_s, quick.budget_s) == (900.0, 120.0)  # the full plan needs ~12 min
    assert full.markdown is not None and full.markdown.name == "RESULTS.md"
    assert quick.markdown is None and parse_args(["--only", "credit"]).markdown is None
    assert full.repeats == 3 and full.seconds == quick.seconds == 2.0
