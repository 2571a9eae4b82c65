"""The window of the log → per-version drift reports (kit/drift_window.py)."""

from __future__ import annotations

import numpy as np

from kit.drift_window import NO_PROFILE, NOT_ENOUGH_DATA, WindowSpec, read_window, version_reports
from kit.predlog_store import LogStore
from kit.profile import build_profile


def features(rng: np.random.Generator, n: int, scale: float = 1.0) -> list[dict]:
    amounts = rng.lognormal(10, 0.5, n) * scale
    return [{"amount": float(a), "output.score": float(min(a / 1e5, 1.0))} for a in amounts]


PROFILE = build_profile(features(np.random.default_rng(0), 3000))


def rows(version: str, feats: list[dict | None], start: float = 0.0,
         served_by: str = "production") -> list[dict]:
    return [{"version": version, "ts": start + i, "served_by": served_by, "features": f}
            for i, f in enumerate(feats)]


class ListStore(LogStore):
    """The reader side of a log, over a list (unit tests: the integration test uses the real
    SQLite log written by a real service)."""

    def __init__(self, records: list[dict]) -> None:
        self.records = records
        self.asked: list[tuple[str, float]] = []

    def read_predictions(self, model, since=0.0, until=None):
        self.asked.append((model, since))
        return [r for r in self.records if r["ts"] >= since]


def test_each_version_is_scored_against_its_own_profile() -> None:
    rng = np.random.default_rng(1)
    window = rows("v1", features(rng, 300)) + rows("v2", features(rng, 300, 0.6),
                                                   served_by="canary")
    asked = []

    def profile_of(version: str) -> dict:
        asked.append(version)
        return PROFILE

    reports = version_reports(window, profile_of, minimum=100)
    assert sorted(asked) == ["v1", "v2"]
    assert reports["v1"].report.score < 0.3 and reports["v1"].report.level == "ok"
    assert reports["v2"].report.score >= 0.5 and reports["v2"].report.level == "critical"
    assert "amount" in reports["v2"].report.drifted
    assert reports["v2"].served_by == {"canary": 300}
    view = reports["v2"].as_dict()
    assert view["features"]["amount"]["psi"] > 0 and view["level"] == "critical"


def test_too_few_records_or_no_profile_is_said_not_scored() -> None:
    rng = np.random.default_rng(2)
    window = rows("old", features(rng, 200)) + rows("new", features(rng, 50))
    reports = version_reports(window, lambda v: None if v == "old" else PROFILE, minimum=100)
    assert reports["old"].report is None and reports["old"].reason == NO_PROFILE
    assert reports["new"].report is None
    assert reports["new"].reason == f"{NOT_ENOUGH_DATA}: 50 of 100 records"
    assert reports["new"].as_dict()["score"] is None


def test_rows_without_features_count_but_are_not_scored() -> None:
    rng = np.random.default_rng(3)
    window = rows("v1", [None] * 80 + features(rng, 120))
    drift = version_reports(window, lambda v: PROFILE, minimum=100)["v1"]
    assert (drift.records, drift.scored) == (200, 120)
    assert drift.report is not None and drift.report.window == 120


def test_the_window_is_the_newest_records_read_from_a_widening_span() -> None:
    store = ListStore(rows("v1", features(np.random.default_rng(4), 500)))  # one a second
    got = read_window(store, "credit", WindowSpec(seconds=300, max_records=100), now=500.0)
    assert store.asked == [("credit", 440.0), ("credit", 260.0)]  # 60 s: too few; 240 s: enough
    assert len(got) == 100 and got[0]["ts"] == 400.0 and got[-1]["ts"] == 499.0
    store.asked.clear()
    quiet = read_window(store, "credit", WindowSpec(seconds=300, max_records=1000), now=500.0)
    assert store.asked == [("credit", 440.0), ("credit", 260.0), ("credit", 200.0)]
    assert len(quiet) == 300 and quiet[0]["ts"] == 200.0  # the whole window, no more


def test_a_sampled_log_keeps_max_records_scored_and_counts_the_rest() -> None:
    feats = features(np.random.default_rng(5), 500)
    sampled = [f if i % 5 == 0 else None for i, f in enumerate(feats)]  # one record in five
    store = ListStore(rows("v1", sampled))
    got = read_window(store, "credit", WindowSpec(seconds=500, max_records=50), now=500.0)
    assert sum(r["features"] is not None for r in got) == 50
    assert got[0]["features"] is not None and len(got) == 250  # back to the 50th scored one
    drift = version_reports(got, lambda v: PROFILE, minimum=10)["v1"]
    assert (drift.records, drift.scored) == (250, 50)
    older = ListStore(rows("v0", [None] * 300))  # a log from before features: counted, capped
    assert len(read_window(older, "credit", WindowSpec(seconds=500, max_records=50), 300.0)) == 50


def test_a_version_whose_artifact_cannot_be_read_does_not_stop_the_others():
    from kit.drift_window import version_reports

    rows = [{"version": v, "features": {"x": 1.0}, "served_by": "production", "ts": float(i)}
            for i, v in enumerate(["gone", "kept"] * 3)]

    def profile_of(version):
        if version == "gone":
            raise FileNotFoundError("pruned from the registry")
        return None

    reports = version_reports(rows, profile_of, minimum=2)
    assert reports["gone"].reason.startswith("artifact unreadable: FileNotFoundError")
    assert reports["kept"].reason == "no reference profile"
