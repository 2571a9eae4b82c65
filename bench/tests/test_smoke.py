"""Smoke: the real credit service on a free port, one 2-second wrk point, the report fields.

It asserts what the report carries, never how fast anything was.
"""

from pathlib import Path

import pytest

from bench import mlserver
from bench.fleet import Fleet
from bench.points import Point
from bench.report import render_markdown, summarize
from bench.run import measure, runnable_points
from bench.tests.conftest import require_wrk

pytestmark = pytest.mark.integration


def test_one_point_against_the_credit_service(credit_model_dir: Path, tmp_path: Path):
    require_wrk()
    fleet = Fleet(tmp_path, credit_model_dir)
    point = Point("credit", "credit", "/v1/models/credit:predict", 2, 1)
    try:
        fleet.start_services(["credit"], train=False)
        assert "credit" in fleet.servers, fleet.skipped
        ready = runnable_points([point, Point("gateway", "credit", "/x", 1, 1, "hit")], fleet)
        assert [p for p, _, _ in ready] == [point]
        assert fleet.skipped == [{"what": "1 point",
                                  "reason": "gateway not running: credit via gateway (hit) c1 b1"}]
        runs = measure(ready, seconds=2, repeats=1, fleet=fleet)
        rss = fleet.rss_mb()
    finally:
        fleet.stop()
    assert fleet.servers["credit"].popen.returncode is not None
    [run] = runs[point.key]
    assert run["requests"] > 0 and run["non_2xx"] == 0 and run["socket_errors"] == 0
    assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
    assert rss["credit"] > 10
    summary = summarize(runs[point.key])
    results = {
        "command": "pytest", "quick": True, "seconds": 2, "repeats": 1, "started_at": "s",
        "finished_at": "f", "results_file": "smoke.json", "peer_version": "",
        "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 1, "kernel": "k", "python": "3",
                    "wrk": "wrk", "load_average_start": [0, 0, 0]},
        "servers": {"credit": {"version": fleet.versions["credit"], "rss_idle_mb": rss["credit"],
                               "rss_after_mb": rss["credit"]}},
        "points": [{"key": point.key, "route": "credit", "cache": "", "connections": 2,
                    "instances": 1, "median": summary}],
        "skipped": fleet.skipped}
    text = render_markdown(results)
    assert f"| credit c2 b1 | {summary['requests_per_s']:,.1f} |" in text
    assert fleet.versions["credit"] in text


def test_mlserver_serves_the_same_booster(credit_model_dir: Path, tmp_path: Path):
    """Only where the peer's venv was already made by `make bench` (it is a 1 GB install)."""
    require_wrk()
    if not mlserver.mlserver_binary().is_file():
        pytest.skip(f"no MLServer venv at {mlserver.VENV} (made by the first `make bench`)")
    fleet = Fleet(tmp_path, credit_model_dir)
    point = Point("mlserver", "mlserver", "/v2/models/credit/infer", 1, 4)
    try:
        fleet.start_services(["credit"], train=False)
        fleet.start_mlserver()
        from bench.run import check_answers

        ready, found = check_answers(runnable_points([point], fleet), fleet)
    finally:
        fleet.stop()
    assert [p for p, _, _ in ready] == [point], fleet.skipped
    assert found["mlserver"]["equal"] and found["mlserver"]["max_abs_diff"] <= 1e-6, found
    assert (tmp_path / "mlserver" / "credit" / "model.json").is_file()


@pytest.mark.parametrize("peer", ["bentoml", "ray"])
def test_peer_serves_the_same_booster_on_loopback(credit_model_dir: Path, tmp_path: Path, peer):
    """Only where the peer's venv was already made by `make bench`: the peer starts, passes the
    loopback check, answers the probe and equals credit's answers; Ray leaves nothing behind."""
    from bench import bentoml_peer, ray_peer
    from bench.points import PEER_ROUTES
    from bench.run import check_answers

    module = {"bentoml": bentoml_peer, "ray": ray_peer}[peer]
    if not (module.VENV / "bin" / peer).is_file():
        pytest.skip(f"no {peer} venv at {module.VENV} (made by the first `make bench`)")
    points = [Point(server, route, path, 1, 4) for route, (server, path, _)
              in PEER_ROUTES.items() if server == peer]
    fleet = Fleet(tmp_path, credit_model_dir)
    try:
        fleet.start_services(["credit"], train=False)
        fleet.start_peer(module)
        ready, found = check_answers(runnable_points(points, fleet), fleet)
        server = fleet.servers.get(peer)
    finally:
        fleet.stop()
    assert [p for p, _, _ in ready] == points, fleet.skipped
    assert set(found) == {p.route for p in points}
    assert all(v["equal"] and v["max_abs_diff"] <= 1e-6 for v in found.values()), found
    assert fleet.ready_s[peer] > 0
    if peer == "ray":
        assert ray_peer.session_pids(server.temp_dir) == []


def test_the_floor_serves_on_loopback(tmp_path: Path):
    from bench.points import FLOOR

    fleet = Fleet(tmp_path, tmp_path)
    point = Point(FLOOR, FLOOR, "/predict", 1, 32)
    try:
        fleet.start_floor()
        ready = runnable_points([point], fleet)
    finally:
        fleet.stop()
    assert [p for p, _, _ in ready] == [point], fleet.skipped
