"""Issue 23's goals as RESULTS.md states them: each verdict follows its own numbers."""

from bench.goals import serving_goals


def row(conns, batch, server, p50=1.0, p99=2.0, rps=100.0, per_cpu=None):
    return {"connections": conns, "instances": batch, "server": server, "p50_ms": p50,
            "p99_ms": p99, "rps": rps, "rows_per_s": rps * batch, "credit_over_per_cpu": per_cpu}


def test_each_goal_passes_and_fails_on_its_own_threshold():
    rows = [row(64, 1, "credit", p50=10.0, p99=40.0), row(64, 1, "floor", p50=5.0, p99=14.0),
            row(64, 1, "mlserver", p99=250.0), row(64, 1, "ray", p99=80.0),
            row(16, 32, "credit", rps=897.0), row(16, 32, "mlserver", rps=300.0, per_cpu=4.1),
            row(16, 1, "credit", rps=500.0), row(16, 1, "floor", rps=1000.0)]
    goals = serving_goals(rows)
    assert [g["verdict"] for g in goals] == ["PASS", "PASS", "FAIL", "PASS"]
    assert goals[0]["measured"] == "40.0 ÷ 10.0 ms = 4.00; the floor's own 2.80"
    assert goals[1]["measured"] == ("credit ÷ peer p99: mlserver 0.16, ray 0.50 (bentoml, "
                                    "ray-m64 not in this run)")
    assert goals[2]["measured"] == "2.99× (28,704 against 9,600 rows/s); per CPU second 4.10×"
    rows[0]["p99_ms"], rows[3]["p99_ms"] = 40.1, 80.1  # a hair past each line: FAIL, though
    rows[4]["rps"], rows[6]["rps"] = 900.0, 499.0  # shown rounded as 4.01 and 0.50
    assert [g["verdict"] for g in serving_goals(rows)] == ["FAIL", "FAIL", "PASS", "FAIL"]


def test_a_goal_whose_points_did_not_run_is_left_out():
    assert serving_goals([row(16, 1, "credit")]) == []  # no floor point: no floor ratio
    only_rows = serving_goals([row(16, 32, "credit", rps=320.0), row(16, 32, "mlserver")])
    assert [g["verdict"] for g in only_rows] == ["PASS"]
    no_p99 = serving_goals([row(64, 1, "credit", p50=0.0), row(64, 1, "mlserver", p99=0.0)])
    assert no_p99 == []  # nothing to divide by: no verdict rather than an error


def test_the_rows_goal_is_also_judged_on_credit_as_two_workers():
    """MLServer serves with two processes (HTTP and one inference worker): `credit w2` is
    credit with as many, judged against the same line, its cores beside MLServer's."""
    mlserver = {**row(16, 32, "mlserver", rps=300.0), "cores": 1.8}
    workers = {**row(16, 32, "credit w2", rps=960.0), "cores": 1.9}
    goals = serving_goals([row(16, 32, "credit", rps=800.0), workers, mlserver])
    assert [g["goal"] for g in goals] == ["rows: c16 × 32 rows/s ≥ 3× MLServer's",
                                          "rows, 2 processes each: c16 × 32 rows/s ≥ 3× "
                                          "MLServer's"]
    assert [g["verdict"] for g in goals] == ["FAIL", "PASS"]
    assert goals[1]["measured"] == ("3.20× (30,720 rows/s, credit w2); cores 1.90 against "
                                    "1.80")
    workers["rps"] = 899.0
    assert serving_goals([workers, mlserver])[0]["verdict"] == "FAIL"
