"""Issue 23's goals as RESULTS.md states them: each verdict follows its own numbers."""

from bench.goals import serving_goals


def row(conns, batch, server, p50=1.0, p99=2.0, **ratios):
    return {"connections": conns, "instances": batch, "server": server, "p50_ms": p50,
            "p99_ms": p99, "credit_over_rps": None, "credit_over_p99": None,
            "credit_over_per_cpu": None, "over_floor_rps": None} | ratios


def test_each_goal_passes_and_fails_on_its_own_threshold():
    rows = [row(64, 1, "credit", p50=10.0, p99=40.0), row(64, 1, "floor", p50=5.0, p99=14.0),
            row(64, 1, "mlserver", credit_over_p99=0.16), row(64, 1, "ray", credit_over_p99=0.5),
            row(16, 32, "mlserver", credit_over_rps=2.99, credit_over_per_cpu=4.1),
            row(16, 1, "credit", over_floor_rps=0.5)]
    goals = serving_goals(rows)
    assert [g["verdict"] for g in goals] == ["PASS", "PASS", "FAIL", "PASS"]
    assert goals[0]["measured"] == "40.0 ÷ 10.0 ms = 4.0; the floor's own 2.8"
    assert goals[1]["measured"] == "credit ÷ peer p99: mlserver 0.16, ray 0.50"
    assert goals[2]["measured"] == "2.99×; per CPU second 4.10×"
    rows[0]["p99_ms"], rows[3]["credit_over_p99"] = 40.1, 0.51
    rows[4]["credit_over_rps"], rows[5]["over_floor_rps"] = 3.0, 0.49
    assert [g["verdict"] for g in serving_goals(rows)] == ["FAIL", "FAIL", "PASS", "FAIL"]

def test_a_goal_whose_points_did_not_run_is_left_out():
    assert serving_goals([row(16, 1, "credit")]) == []  # no floor ratio: no floor point
    only_rows = serving_goals([row(16, 32, "mlserver", credit_over_rps=3.2)])
    assert [(g["measured"], g["verdict"]) for g in only_rows] == [("3.20×", "PASS")]
