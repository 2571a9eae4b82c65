"""Expected calibration error, its bins, the diagram and the winner line (kit/calibration.py)."""

import numpy as np
import pytest

from kit.calibration import (
    ECE_BINS,
    expected_calibration_error,
    plot_reliability,
    reliability,
    winner_line,
)


def test_ece_is_the_row_weighted_gap_per_equal_width_bin():
    # 0.02 and 0.06 share the first bin [0, 1/15) (mean 0.04, observed 0.5); 0.95 and 1.0
    # the last, [14/15, 1] (mean 0.975, observed 1).
    predicted = [0.02, 0.06, 0.95, 1.0]
    observed = [0, 1, 1, 1]
    table = reliability(predicted, observed)
    assert [(r["n"], r["mean_predicted"], r["observed"]) for r in table] == [
        (2, pytest.approx(0.04), 0.5), (2, pytest.approx(0.975), 1.0)]
    assert table[-1]["to"] == 1.0 and table[0]["from"] == 0.0
    assert expected_calibration_error(predicted, observed) == pytest.approx(
        0.5 * 0.46 + 0.5 * 0.025)
    assert reliability([0.1], [1])[0]["from"] == pytest.approx(1 / 15)  # 0.1 is in bin 2


def test_calibrated_probabilities_score_near_zero_and_overconfident_ones_do_not():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    honest = rng.uniform(size=p.size) < p
    assert expected_calibration_error(p, honest) < 0.02
    assert expected_calibration_error(np.full(p.size, 0.99), honest) == pytest.approx(
        0.99 - honest.mean())
    assert ECE_BINS == 15 and len(reliability(p, honest)) == 15


def test_reliability_diagram_is_written(tmp_path):
    p = np.linspace(0, 1, 50)
    plot_reliability({"a": (p, p > 0.5), "b": (p ** 2, p > 0.5)}, tmp_path / "r.png",
                     title="t", xlabel="x", ylabel="y")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_winner_line_names_the_best_the_runner_up_and_the_margin():
    line = winner_line({"xgboost": 0.81, "logistic": 0.795, "other": 0.7}, "CV AUC")
    assert line == "`xgboost` won on CV AUC: 0.8100 against 0.7950 for `logistic` (+0.0150)."
    assert winner_line({"a": 0.2, "b": 0.1}, "Brier", higher=False).startswith("`b` won")
    assert "only candidate" in winner_line({"a": 0.9}, "accuracy")
