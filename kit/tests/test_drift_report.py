"""`finfleet drift report` without Evidently: the reference sample drawn from a profile
(kit/profile_sample.py), the window's times, the command's arguments and its one-line errors.
The HTML itself (Evidently in its venv, a real service's log): tests/test_drift_report.py."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from kit import drift_report
from kit.artifacts import ArtifactStore
from kit.drift import compare
from kit.predlog_store import open_log_store
from kit.profile import OTHER, build_profile
from kit.profile_sample import reference_sample
from kit.tests.test_drift import rows

NOW = 1_764_000_000.0  # 2025-11-24 16:00 UTC


@pytest.fixture(scope="module")
def profile() -> dict:
    data = rows(4000, seed=1)
    for k, row in enumerate(data):  # a share of missing values, as a profile may record
        if k % 10 == 0:
            row["age"] = None
    return build_profile(data)


# --- the sample --------------------------------------------------------------------------------
def test_numbers_follow_the_profiles_quantiles(profile):
    sample = reference_sample(profile, n=20_000)
    for name in ("income", "age", "output.probability"):
        ref = profile["features"][name]
        assert ref["kind"] == "numeric"
        values = np.array([r[name] for r in sample if r[name] is not None])
        q = np.asarray(ref["quantiles"])
        # each stored percentile is a percentile of the sample: the share below it at most, and
        # the share up to it at least, that level (both at once where values pile up, as age's
        # clip at 21 does). Sampling noise: the standard error at 20,000 draws is 0.0035 at
        # most, so 0.015 is over four of them.
        x, levels = np.sort(values), np.linspace(0, 1, 101)[1:-1]
        below = np.searchsorted(x, q[1:-1], side="left") / len(x)
        upto = np.searchsorted(x, q[1:-1], side="right") / len(x)
        assert np.all(below <= levels + 0.015) and np.all(upto >= levels - 0.015), name
        assert values.min() >= q[0] and values.max() <= q[-1]
        assert abs(np.mean(values) - ref["mean"]) < 0.02 * ref["std"], name
        # the outer percentiles keep a long tail near its inner edge (drawn evenly up to the
        # maximum, the lognormal income's spread came out 20 % too wide)
        assert abs(np.std(values) / ref["std"] - 1) < 0.05, name


def test_categories_missing_shares_and_the_seed(profile):
    sample = reference_sample(profile, n=20_000)
    shares = profile["features"]["employment"]["frequencies"]
    drawn = [r["employment"] for r in sample]
    for value, share in shares.items():
        assert abs(drawn.count(value) / len(drawn) - share) < 0.015, value
    assert OTHER in shares and set(drawn) <= set(shares)
    missing = sum(r["age"] is None for r in sample) / len(sample)
    assert abs(missing - profile["features"]["age"]["missing"]) < 0.015
    assert reference_sample(profile, n=500) == reference_sample(profile, n=500)
    assert reference_sample(profile, n=500) != reference_sample(profile, n=500, seed=1)
    assert len(reference_sample(profile)) == profile["rows"]  # default: as many as profiled


def test_a_sample_of_the_profile_shows_no_drift_against_it(profile):
    sample = reference_sample(profile, n=2000, seed=7)
    assert compare(profile, sample).score == 0.0
    poorer = [{**r, "income": r["income"] * 0.6} for r in sample]
    assert "income" in compare(profile, poorer).drifted


# --- the window's times and the arguments -------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - 7 * 86400), ("12h", NOW - 12 * 3600), ("30m", NOW - 1800), ("90s", NOW - 90),
    ("2w", NOW - 14 * 86400), ("1.5h", NOW - 5400),
    ("2026-11-24", dt.datetime(2026, 11, 24, tzinfo=dt.UTC).timestamp()),
    ("2026-11-24T08:30", dt.datetime(2026, 11, 24, 8, 30, tzinfo=dt.UTC).timestamp()),
    ("2026-11-24T08:30Z", dt.datetime(2026, 11, 24, 8, 30, tzinfo=dt.UTC).timestamp()),
    ("2026-11-24T08:30+05:30", dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC).timestamp()),
])
def test_since_takes_durations_and_iso_dates(text, expected):
    assert drift_report.parse_time(text, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["7x", "yesterday", "d7", "-3d", "2026-13-01", ""])
def test_since_refuses_anything_else(text):
    with pytest.raises(argparse.ArgumentTypeError, match="neither a duration"):
        drift_report.parse_time(text, now=NOW)


def test_the_parser_defaults_and_a_bad_since(capsys):
    args = drift_report.build_parser().parse_args(["report", "credit"])
    assert args.name == "credit" and args.until is None and args.version is None
    assert abs(args.since - (dt.datetime.now(dt.UTC).timestamp() - 7 * 86400)) < 60
    args = drift_report.build_parser().parse_args(
        ["report", "credit", "--since", "12h", "--until", "2026-11-24", "--version", "v1",
         "--out", "x.html", "--log-dir", "/tmp/l"])
    assert args.until == dt.datetime(2026, 11, 24, tzinfo=dt.UTC).timestamp()
    assert (args.version, args.out, args.log_dir) == ("v1", Path("x.html"), Path("/tmp/l"))
    with pytest.raises(SystemExit) as exc:
        drift_report.build_parser().parse_args(["report", "credit", "--since", "last week"])
    assert exc.value.code == 2
    assert "neither a duration" in capsys.readouterr().err


def test_the_finfleet_command_runs_this_module(monkeypatch):
    from fleet import drift_cli
    from fleet.cli import resolve
    from kit import drift_report

    module, argv = resolve(["drift", "report", "credit", "--since", "7d"])
    assert (module, argv) == ("fleet.drift_cli", ["report", "credit", "--since", "7d"])
    seen = []
    monkeypatch.setattr(drift_report, "main", lambda args: seen.append(args) or 0)
    assert drift_cli.main(["--url", "http://x", *argv]) == 0  # `report` is this module's
    assert seen == [["report", "credit", "--since", "7d"]]


# --- one-line errors ----------------------------------------------------------------------------
@pytest.fixture
def models(tmp_path, profile) -> Path:
    """A credit model folder with two versions: `plain` without a profile, `profiled` with one
    (no model files: the report reads only the manifest)."""
    root = tmp_path / "models"
    store = ArtifactStore(root, "credit")
    for version, manifest in (("plain", {}), ("profiled", {"reference_profile": profile})):
        staging = tmp_path / f"staging-{version}"
        staging.mkdir()
        store.save(staging, manifest, version=version)
    return root


@pytest.fixture
def fake_venv(tmp_path) -> Path:
    """A venv-shaped folder whose python is this one (the errors below come before any run)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink(sys.executable, venv / "bin" / "python")
    return venv


def fail(capsys, *argv: str) -> str:
    assert drift_report.main(["report", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_unknown_model(capsys):
    assert "no model named 'nope'; models: " in fail(capsys, "nope")


def test_a_version_without_a_profile(capsys, models, tmp_path, fake_venv):
    err = fail(capsys, "credit", "--model-dir", str(models), "--version", "plain",
               "--log-dir", str(tmp_path / "log"), "--evidently-venv", str(fake_venv))
    assert "credit plain has no reference profile" in err and "finfleet train credit" in err


def test_an_unknown_version(capsys, models, tmp_path, fake_venv):
    err = fail(capsys, "credit", "--model-dir", str(models), "--version", "v9",
               "--log-dir", str(tmp_path / "log"), "--evidently-venv", str(fake_venv))
    assert "cannot load credit v9" in err and "profiled" in err


def test_evidently_missing_says_make_evidently(capsys, models, tmp_path):
    err = fail(capsys, "credit", "--model-dir", str(models), "--version", "profiled",
               "--log-dir", str(tmp_path / "log"), "--evidently-venv", str(tmp_path / "none"))
    assert "Evidently is not installed" in err and "make evidently" in err


def test_no_records_in_the_window(capsys, models, tmp_path, fake_venv, profile):
    log = tmp_path / "log"
    store = open_log_store(None, log)
    # one record of another version, and one of this version before the window
    store.write_predictions([
        ("a", None, NOW, "credit", "plain", "production", None, None, "{}", "{}", 1.0, None,
         None),
        ("b", None, NOW - 30 * 86400, "credit", "profiled", "production", None, None, "{}",
         "{}", 1.0, None, None)])
    store.close()
    err = fail(capsys, "credit", "--model-dir", str(models), "--version", "profiled",
               "--log-dir", str(log), "--evidently-venv", str(fake_venv),
               "--since", "2025-11-20", "--until", "2025-11-25")
    assert "credit profiled: 0 records from 2025-11-20 00:00 UTC to 2025-11-25 00:00 UTC" in err
    assert "plain: 1 of other versions left out" in err and "nothing to report" in err
    err = fail(capsys, "credit", "--model-dir", str(models), "--since", "1d", "--until", "2d",
               "--log-dir", str(log), "--evidently-venv", str(fake_venv))
    assert "the window is empty" in err


def test_the_window_takes_the_logs_features_and_only_this_version(tmp_path, profile):
    store = open_log_store(None, tmp_path / "log")  # the real log: its `features` column
    rows = [("p1", None, NOW, "v1", {"income": 1.0}), ("p2", None, NOW + 1, "v2", {"income": 2.0}),
            ("p3", None, NOW + 2, "v1", {"income": 3.0}), ("p4", None, NOW + 3, "v1", None),
            ("p5", None, NOW + 9, "v1", {"income": 9.0})]
    store.write_predictions([
        (pid, rid, ts, "credit", version, "production", None, None, "{}", "{}", 1.0,
         None if features is None else json.dumps(features), None)
        for pid, rid, ts, version, features in rows])
    window = drift_report.read_window(store, "credit", "v1", NOW, NOW + 5, artifact=None)
    store.close()
    assert window.rows == [{"income": 1.0}, {"income": 3.0}]  # p4: not in the features sample
    assert window.other_versions == {"v2": 1} and window.without_features == 1
    kinds = drift_report.columns(profile, [{"income": 1.0, "employment": "gig", "x": 1}])
    assert kinds == {"numerical": ["income"], "categorical": ["employment"]}
    assert drift_report.table([{"income": 2, "employment": True, "x": 1}], kinds) == [
        {"income": 2.0, "employment": "true"}]


def test_the_summary_a_person_reads(profile):
    poorer = [{**r, "income": r["income"] * 0.6} for r in reference_sample(profile, n=400)]
    window = drift_report.Window("credit", "v1", NOW - 3600, NOW, poorer, {"v0": 3}, 2)
    evidently = {"drifted_columns": 2, "columns": 5, "share": 0.4, "reference_rows": 4000}
    lines = drift_report.summary_lines(window, compare(profile, poorer), evidently,
                                       Path("r.html"))
    assert lines[0] == ("credit v1: 400 records from 2025-11-24 15:00 UTC to 2025-11-24 16:00 "
                        "UTC (v0: 3 of other versions left out; --version chooses)")
    assert "2 more records have no drift features" in lines[1]
    assert re.match(r"  drift score 0\.\d\d \((ok|warning|critical)\); inputs", lines[2])
    assert lines[3].startswith("  drifted: income ")
    assert lines[4].startswith("  Evidently: 2 of 5 columns drifted (share 0.40)")
    assert lines[5] == "  report: r.html"


def test_evidently_is_locked_apart_from_the_project_and_every_image():
    from kit.settings import REPO_ROOT

    requirements = REPO_ROOT / "requirements"
    own = (requirements / "evidently.txt").read_text()
    assert re.search(r"^evidently==[\d.]+ \\$", own, re.M) and "--hash=sha256:" in own
    for lock in [requirements / "all.txt", *sorted((requirements / "images").glob("*.txt"))]:
        assert not re.search(r"^evidently==", lock.read_text(), re.M), lock.name
