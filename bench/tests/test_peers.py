"""The peers' harness without the peers installed: the loopback check's parsing, the start
commands, bodies and plan, the answers-equal arithmetic, the ratio and footprint tables, PSS."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bench import answers, bentoml_peer, floor, footprint, listen, peer_venv, ray_peer
from bench.points import FLOOR, PEER_ROUTES, Point, body_for, plan
from bench.report import cpu_use, footprint_rows, render_markdown, server_rows, summarize

SS = """\
LISTEN 0      2048       127.0.0.1:38111      0.0.0.0:* users:(("python3.11",pid=29401,fd=3),\
("bentoml",pid=29382,fd=3))
LISTEN 0      5            0.0.0.0:38201      0.0.0.0:* users:(("ray::DashboardA",pid=29588,fd=35))
LISTEN 0      4096               *:38200            *:* users:(("gcs_server",pid=29470,fd=44))
LISTEN 0      128        192.0.2.2:38207      0.0.0.0:* users:(("ray::RuntimeEnv",pid=29592,fd=27))
LISTEN 0      4096  [::ffff:127.0.0.1]:38202        *:* users:(("python3.11",pid=29504,fd=15))
LISTEN 0      4096           [::1]:6379          [::]:* users:(("redis-server",pid=77,fd=7))
LISTEN 0      4096            [::]:8080          [::]:* users:(("nginx",pid=29470,fd=9))
LISTEN 0      4096   127.0.0.53%lo:53         0.0.0.0:*
garbage line
"""


def test_ss_lines_are_read_with_address_port_and_pids():
    found = listen.parse_ss(SS)
    assert [(s.address, s.port) for s in found] == [
        ("127.0.0.1", 38111), ("0.0.0.0", 38201), ("*", 38200), ("192.0.2.2", 38207),
        ("::ffff:127.0.0.1", 38202), ("::1", 6379), ("::", 8080), ("127.0.0.53", 53)]
    assert found[0].pids == {29401, 29382} and found[0].process == "python3.11"
    assert [s.loopback for s in found] == [True, False, False, False, True, True, False, True]
    assert found[6].describe() == "[::]:8080 (nginx, pid 29470)"


def test_only_the_trees_own_sockets_beyond_loopback_are_violations():
    found = listen.parse_ss(SS)
    ray = {29470, 29588, 29592, 29504}
    assert [s.describe() for s in listen.beyond_loopback(found, ray)] == [
        "0.0.0.0:38201 (ray::DashboardA, pid 29588)", "*:38200 (gcs_server, pid 29470)",
        "192.0.2.2:38207 (ray::RuntimeEnv, pid 29592)", "[::]:8080 (nginx, pid 29470)"]
    assert listen.beyond_loopback(found, {29401, 77}) == []  # loopback only: passes
    assert listen.beyond_loopback(found, {12345}) == []


def test_violations_of_a_real_loopback_server_are_none():
    import shutil
    import socket

    if not shutil.which("ss"):
        pytest.skip("no `ss` (iproute2) here")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        import os

        assert listen.violations([os.getpid()]) == []


def test_ray_pins_every_port_and_the_node_to_loopback(tmp_path: Path):
    ports = dict.fromkeys(("gcs", "metrics", "client", "node_manager", "object_manager",
                           "agent_http", "agent_grpc", "runtime_env"), 0)
    ports = {name: 40000 + i for i, name in enumerate(ports)} | {"workers": 41000}
    argv = ray_peer.start_argv(Path("/v/bin/ray"), tmp_path, ports)
    assert argv[:4] == ["/v/bin/ray", "start", "--head", "--block"]
    flags = dict(a.removeprefix("--").split("=", 1) for a in argv[4:] if "=" in a)
    assert flags["node-ip-address"] == "127.0.0.1" and flags["dashboard-host"] == "127.0.0.1"
    assert flags["include-dashboard"] == "false"
    assert flags["port"] == "40000" and flags["metrics-export-port"] == "40001"
    assert (flags["min-worker-port"], flags["max-worker-port"]) == (
        "41000", str(41000 + ray_peer.WORKER_PORTS - 1))
    for flag in ("ray-client-server-port", "node-manager-port", "object-manager-port",
                 "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                 "runtime-env-agent-port"):
        assert flags[flag].isdigit()
    assert flags["temp-dir"] == str(tmp_path)
    assert ray_peer.ENV["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"  # keeps 127.0.0.1
    first = ray_peer.free_range(5)
    assert 20_000 <= first < 32_000


def test_bentoml_listens_on_loopback_and_versions_are_pinned():
    argv = bentoml_peer.start_argv(Path("/v/bin/bentoml"), 4321)
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and "4321" in argv
    assert argv[2] == bentoml_peer.SERVICE and (bentoml_peer.SERVICE_DIR /
                                                "bentoml_service.py").is_file()
    for packages in (bentoml_peer.PACKAGES, ray_peer.PACKAGES):
        assert all("==" in p for p in packages)
        assert "xgboost-cpu==3.2.0" in packages  # the project's lock: the same booster reader


def test_a_venv_that_cannot_be_built_is_reported_and_removed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    venv = tmp_path / ".venv-nothing"
    with pytest.raises(peer_venv.PeerUnavailable, match="could not install nothing==1"):
        peer_venv.ensure(venv, ("nothing==1",), "nothing")
    assert not venv.exists()
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "nothing").write_text("")
    assert peer_venv.ensure(venv, ("nothing==1",), "nothing") == venv / "bin" / "nothing"
    assert peer_venv.size_mb(venv) == 0.0 and peer_venv.size_mb(tmp_path / "absent") is None


def test_missing_booster_names_the_retrain_command(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"services\.credit\.train"):
        peer_venv.booster(tmp_path)


def test_every_peer_and_the_floor_has_each_credit_point():
    for quick in (True, False):
        points = plan(quick)
        credit = {(p.connections, p.instances) for p in points
                  if p.route == "credit" and not p.cache and not p.variant and not p.log_off}
        for route, (server, path, _) in PEER_ROUTES.items():
            mine = [p for p in points if p.route == route]
            wanted = {(c, b) for c, b in credit if not quick or route == "mlserver" or b == 1}
            assert {(p.connections, p.instances) for p in mine} == wanted
            assert {(p.target, p.path) for p in mine} == {(server, path)}
    assert Point("ray", "ray-m64", "/ray-m64", 1, 1).needs == ("credit",)
    assert Point(FLOOR, FLOOR, "/predict", 1, 1).needs == ()


def test_peer_bodies_carry_the_encoded_rows_and_the_floor_gets_credits_body():
    def encode(instances):
        return [[float(i["income"]), 2.0] for i in instances]

    bento = json.loads(body_for(Point("bentoml", "bentoml", "/predict", 16, 2), encode))
    assert bento == {"input": [[85000.1, 2.0], [85000.2, 2.0]]}
    ray = json.loads(body_for(Point("ray", "ray-m64", "/ray-m64", 16, 2), encode))
    assert ray == bento
    credit = body_for(Point("credit", "credit", "/v1/models/credit:predict", 16, 32))
    assert body_for(Point(FLOOR, FLOOR, "/predict", 16, 32)) == credit
    with pytest.raises(ValueError, match="encoder"):
        body_for(Point("bentoml", "bentoml", "/predict", 1, 1))


def test_calibration_is_the_credit_models_own():
    from services.credit.model import logit, sigmoid

    raw = [0.01, 0.2, 0.5, 0.93]
    expected = sigmoid(1.3 * logit(np.array(raw)) - 0.4).tolist()
    assert answers.calibrate(raw, 1.3, -0.4) == pytest.approx(expected, abs=1e-12)
    calibration = {"slope": 1.0, "intercept": 0.0}
    assert answers.compare([0.2, 0.5], [0.2, 0.5000004], calibration) == pytest.approx(4e-7)
    assert answers.compare([0.2, 0.5], [0.2, 0.51], calibration) > answers.TOLERANCE
    assert answers.compare([0.2], [0.2, 0.5], calibration) == float("inf")


def test_peer_answers_are_read_per_protocol():
    assert answers.probabilities("v2", {"outputs": [{"data": [0.1, 0.2]}]}) == [0.1, 0.2]
    assert answers.probabilities("matrix", [0.3]) == [0.3]
    with pytest.raises(ValueError, match="list of probabilities"):
        answers.probabilities("matrix", {"error": "boom"})


def test_fixed_applicants_are_fixed_and_distinct():
    rows = answers.applicants()
    assert rows == answers.applicants() and len(rows) == answers.APPLICANTS
    assert len({json.dumps(r, sort_keys=True) for r in rows}) == len(rows)


def test_the_floor_answers_a_constant_on_a_post():
    client = TestClient(floor.build_app())
    answer = client.post("/predict", json={"instances": [{"x": 1}]})
    assert answer.status_code == 200 and answer.content == floor.ANSWER
    assert client.get("/health/ready").status_code == 200
    assert client.get("/openapi.json").status_code == 404


def run(rps, p50, p99):
    return {"requests_per_s": rps, "p50_ms": p50, "p90_ms": p50, "p99_ms": p99, "mean_ms": p50,
            "non_2xx": 0, "socket_errors": 0}


def point(route, conns, batch, rps, p50, p99):
    runs = [run(rps, p50, p99)]
    return {"key": f"{route} c{conns} b{batch}", "target": route, "route": route, "path": "/x",
            "connections": conns, "instances": batch, "cache": "", "runs": runs,
            "median": summarize(runs)}


POINTS = [point("credit", 16, 1, 3000, 5, 10), point("mlserver", 16, 1, 400, 40, 100),
          point("bentoml", 16, 1, 600, 25, 200), point("ray", 16, 1, 100, 150, 400),
          point("ray-m64", 16, 1, 200, 70, 100), point("floor", 16, 1, 7500, 2, 3),
          point("credit", 16, 32, 700, 20, 40), point("bentoml", 16, 32, 350, 40, 80),
          point("ray", 64, 1, 20, 900, 2000)]  # no credit point at c64: no row


def test_cpu_use_counts_the_servers_own_tree_over_the_runs_wall_time():
    busy = point("mlserver", 16, 32, 500, 30, 60)
    busy["runs"] = [run(500, 30, 60) | {"requests": 1000, "wall_s": 2.0,
                                        "cpu_s": {"mlserver": 3.6, "credit": 0.2}},
                    run(500, 30, 60) | {"requests": 1000, "wall_s": 2.0,
                                        "cpu_s": {"mlserver": 3.4}}]
    assert cpu_use(busy) == (1.75, 9142.9)  # 64,000 rows over 7.0 CPU s; credit's 0.2 not its
    assert cpu_use(point("floor", 16, 1, 7500, 2, 3)) == (None, None)  # runs without cpu_s
    idle = point("ray", 16, 1, 100, 150, 400)
    idle["runs"] = [run(100, 150, 400) | {"requests": 200, "wall_s": 2.0, "cpu_s": {"ray": 0.0}}]
    assert cpu_use(idle) == (None, None)


def test_server_rows_give_rows_per_cpu_second_beside_the_peers():
    ours, peer = point("credit", 16, 32, 800, 20, 60), point("mlserver", 16, 32, 400, 40, 120)
    ours["runs"][0] |= {"requests": 1600, "wall_s": 2.0, "cpu_s": {"credit": 2.0}}
    peer["runs"][0] |= {"requests": 800, "wall_s": 2.0, "cpu_s": {"mlserver": 4.0}}
    rows = {r["server"]: r for r in server_rows([ours, peer])}
    assert rows["credit"]["cores"] == 1.0 and rows["mlserver"]["cores"] == 2.0
    assert rows["mlserver"]["rows_per_cpu_s"] == 6400.0
    assert rows["mlserver"]["credit_over_per_cpu"] == 4.0  # 2x the rows/s on half the CPU
    assert rows["mlserver"]["credit_over_rps"] == 2.0


def test_credit_as_two_workers_is_a_row_of_its_own_after_credit():
    workers = point("credit", 16, 32, 1050, 15, 50) | {"variant": "w2", "target": "credit-w2"}
    rows = [(r["server"], r["credit_over_rps"]) for r in server_rows([*POINTS, workers])
            if r["instances"] == 32]
    assert rows == [("credit", 1.0), ("credit w2", 0.67), ("bentoml", 2.0)]


def test_server_rows_give_ratios_to_each_peer_and_to_the_floor():
    rows = {(r["connections"], r["instances"], r["server"]): r for r in server_rows(POINTS)}
    assert list(rows) == [(16, 1, s) for s in ("credit", "mlserver", "bentoml", "ray",
                                               "ray-m64", "floor")] + [(16, 32, "credit"),
                                                                       (16, 32, "bentoml")]
    assert rows[(16, 1, "mlserver")]["credit_over_rps"] == 7.5
    assert rows[(16, 1, "bentoml")]["credit_over_p99"] == 0.05
    assert rows[(16, 1, "credit")]["over_floor_rps"] == 0.4
    assert rows[(16, 1, "ray-m64")]["over_floor_rps"] == 0.03
    assert rows[(16, 32, "bentoml")]["rows_per_s"] == 11200.0
    assert rows[(16, 32, "bentoml")]["over_floor_rps"] is None  # no floor point at b32


def test_markdown_has_the_server_table_answers_and_footprint():
    servers = {"credit": {"version": "v1", "venv_mb": 1993.1, "ready_s": 3.2,
                          "pss_idle_mb": 75.3, "pss_after_mb": 100.7},
               "ray": {"version": "2.60.0", "venv": ".venv-ray", "venv_mb": 638.8,
                       "ready_s": 34.8, "pss_idle_mb": 894.8, "pss_after_mb": 915.9},
               "gone": {"version": None, "pss_idle_mb": None}}
    assert footprint_rows(servers)[1] == ["ray", "2.60.0", ".venv-ray", "638.8", "34.8",
                                          "894.8", "915.9"]
    assert footprint_rows(servers)[0][2] == "–"  # results from before the venv was named
    results = {
        "command": "pytest", "quick": True, "seconds": 2, "repeats": 1, "started_at": "s",
        "finished_at": "f", "results_file": "x.json", "peer_version": "",
        "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 1, "kernel": "k", "python": "3",
                    "wrk": "wrk", "load_average_start": [0, 0, 0]},
        "servers": servers, "points": POINTS, "skipped": [],
        "answers": {"bentoml": {"equal": True, "max_abs_diff": 5.4e-07, "reason": ""},
                    "ray": {"equal": False, "max_abs_diff": 0.2, "reason": "differs"}}}
    text = render_markdown(results)
    assert "## Credit beside every peer and the floor" in text
    assert ("| 16 | 1 | mlserver | 400.0 | 400.0 | 40.00 | 100.00 | – | – | 7.50 | 0.10 | – | "
            "0.05 |") in text
    assert "bentoml ≤ 0.00000054; ray **differs**, 0.20000000" in text
    assert "| ray | 2.60.0 | .venv-ray | 638.8 | 34.8 | 894.8 | 915.9 |" in text
    assert "| gone |" not in text.split("## Footprint")[1]


def test_pss_is_summed_over_the_tree_from_smaps_rollup(tmp_path: Path):
    for pid, kb in ((10, 2048), (11, 1024)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "smaps_rollup").write_text(
            f"00400000-7ffd r--p 00000000 00:00 0 [rollup]\nRss: 9999 kB\nPss: {kb} kB\n")
    assert footprint.pss_mb([10, 11, 12], tmp_path) == 3.0
    assert footprint.pss_mb([12], tmp_path) is None
    import os

    assert footprint.pss_mb([os.getpid()]) > 1
