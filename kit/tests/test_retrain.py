"""kit.retrain's own rules, without training: the window, the drift rule, the exits."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kit import retrain
from kit.artifacts import Artifact
from kit.profile import build_profile


def test_since_takes_a_number_and_a_unit() -> None:
    assert retrain.parse_since("30d") == 30 * 86400
    assert retrain.parse_since("12h") == 12 * 3600
    assert retrain.parse_since("1.5w") == 1.5 * 7 * 86400
    with pytest.raises(argparse.ArgumentTypeError, match="30d"):
        retrain.parse_since("30 days")


@pytest.mark.parametrize(("drift", "labels", "force", "retrains", "why"), [
    (0.31, 0, False, True, "drift 0.310 ≥ 0.3"),
    (0.1, 250, False, True, "250 new labels ≥ 200"),
    (None, 250, False, True, "drift unknown"),
    (0.29, 199, False, False, "nothing to retrain"),
    (0.0, 0, True, True, "--force"),
])
def test_the_rule_is_drift_or_enough_new_labels(drift, labels, force, retrains, why) -> None:
    done, reason = retrain.decide(drift, labels, threshold=0.3, min_new=200, force=force)
    assert done is retrains and why in reason


def artifact(profile: dict | None, created: str = "2026-12-01T00:00:00+00:00") -> Artifact:
    manifest = {"version": "v1", "created_at": created}
    if profile is not None:
        manifest["reference_profile"] = profile
    return Artifact("credit", "v1", Path("/nonexistent/credit/v1"), manifest)


def served(values: list[float], version: str = "v1") -> list[dict]:
    """Records with the log's `features` column (what the lead's writer adds)."""
    return [{"version": version, "served_by": "production", "features": {"income": v},
             "input": None, "output": None} for v in values]


def options(**overrides) -> argparse.Namespace:
    return argparse.Namespace(**({"drift_threshold": 0.3, "new_labels": 200, "force": False}
                                 | overrides))


def test_drift_is_measured_on_the_logged_features_against_the_reference() -> None:
    profile = build_profile([{"income": float(i % 100)} for i in range(2000)])
    production = artifact(profile, created="1970-01-01T00:01:40+00:00")  # t = 100 s
    labelled = [{"labelled_at": 50.0}, {"labelled_at": 150.0}]  # one since production
    same = retrain.check_drift("credit", production, served([float(i % 100) for i in range(500)]),
                               labelled, options())
    assert same.retrain is False and same.drift.score < 0.3 and same.new_labels == 1
    shifted = retrain.check_drift("credit", production,
                                  served([float(i % 100) * 0.6 for i in range(500)]), labelled,
                                  options())
    assert shifted.retrain is True and shifted.drift.score >= 0.3
    assert shifted.why.startswith("drift ")


def test_without_a_profile_drift_cannot_be_checked_unless_labels_or_force_decide() -> None:
    with pytest.raises(retrain.RetrainError, match="no reference profile") as caught:
        retrain.check_drift("credit", artifact(None), served([1.0]), [], options())
    assert caught.value.status == retrain.NO_DRIFT_CHECK
    forced = retrain.check_drift("credit", artifact(None), served([1.0]), [], options(force=True))
    assert forced.retrain and "no reference profile" in forced.why


def test_a_model_without_a_retrain_data_module_says_so(capsys, monkeypatch) -> None:
    # As anomaly and spending are until their retrain_data.py lands (another branch).
    monkeypatch.setattr(retrain, "DATA_MODULE", "retrain_data_not_written")
    assert retrain.main(["spending"]) == retrain.NOT_SUPPORTED
    err = capsys.readouterr().err
    assert "no retraining-from-log for spending yet" in err
    assert "services/spending/retrain_data_not_written.py is missing" in err


def test_texts_the_log_did_not_keep_are_a_clear_error() -> None:
    summary = {"model": "intent", "input": {"text": {"chars": 4}}, "label": "greeting"}
    with pytest.raises(retrain.LogDataError, match="INTENT_LOG_INPUTS=true") as caught:
        retrain.corrected_texts([summary])
    assert caught.value.status == retrain.DATA_UNUSABLE
    assert retrain.corrected_texts([]) == {}


class Gate:
    """Stands in for kit.gate's result (a unit test: the gate itself is kit/tests/test_gate.py)."""

    def __init__(self, passed: bool) -> None:
        self.passed = passed

    def table(self) -> str:
        return f"the gate's table (passed={self.passed})"


@pytest.mark.parametrize(("passed", "status"), [(True, retrain.OK),
                                                (False, retrain.GATE_REFUSED)])
def test_promote_goes_through_the_gate_and_a_refusal_has_its_own_status(
        passed: bool, status: int, monkeypatch, capsys) -> None:
    from kit import releases
    from kit.registry import Change

    asked = []

    def promote(registry, version, *, actor, reason):
        asked.append((version, actor, reason))
        if not passed:
            raise releases.GateRefused("refused", extensions={"table": Gate(False).table()})
        change = Change(7, "production", "v1", version, "now", actor, reason)
        return releases.Promotion(version, "v1", True, False, change, Gate(True))

    monkeypatch.setattr(releases, "promote", promote)
    said = []
    code = retrain.judge("credit", object(), "v2", "v1", promote=True, actor="cronjob/x",
                         say=said.append)
    assert code == status
    assert asked == [("v2", "cronjob/x", "retrained from the prediction log (cronjob/x)")]
    assert f"the gate's table (passed={passed})" in capsys.readouterr().out
    assert ("production v1 → v2 (change #7)" in said[-1]) is passed


def test_a_first_version_has_nothing_to_be_gated_against() -> None:
    said = []
    assert retrain.judge("credit", object(), "v1", None, promote=True, actor="a",
                         say=said.append) == retrain.OK
    assert "first version" in said[0]
