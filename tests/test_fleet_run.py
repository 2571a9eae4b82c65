"""`make run`'s launcher end to end: real processes on free ports, the gateway in front,
SIGTERM stops everything and frees every port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from finfleet import Client, Unavailable
from fleet.demo import run_demo
from fleet.plan import build_plan
from fleet.supervisor import short_view
from kit.catalog import Catalog, load_catalog
from kit.procs import free_port
from kit.settings import REPO_ROOT

pytestmark = pytest.mark.integration
MODEL_SERVICES = load_catalog().names


def example(name: str) -> dict:
    return load_catalog().service(name).example


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _launch(tmp_path: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "launcher.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleet", "run", "--log-dir", str(tmp_path / "logs"), *extra],
            cwd=REPO_ROOT, env={**os.environ, **env, "COLUMNS": "200"}, stdout=fh,
            stderr=subprocess.STDOUT)
    return proc, out


def _wait_for(out: Path, proc: subprocess.Popen, marker: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = out.read_text(errors="replace")
        if marker in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"launcher exited ({proc.returncode}):\n{text[-3000:]}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no {marker!r} after {timeout}s:\n{out.read_text()[-3000:]}")


@pytest.fixture
def ports() -> dict[str, str]:
    env = {f"{name.upper()}_PORT": str(free_port())
           for name in [*MODEL_SERVICES, "trainer", "monitor", "gateway"]}
    env["GATEWAY_LOG_LEVEL"] = "WARNING"
    return env


def test_launcher_brings_up_the_fleet_and_sigterm_stops_it(tmp_path, ports):
    proc, out = _launch(tmp_path, ports, "--ready-timeout", "240")
    try:
        text = _wait_for(out, proc, "fleet ready", timeout=900)
        state = json.loads((tmp_path / "logs" / "fleet.json").read_text())
        assert "gateway" in state and state["gateway"]["ready"], text[-2000:]
        assert "model version" in text and "gateway" in text
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        ready = [name for name in MODEL_SERVICES if state.get(name, {}).get("ready")]
        assert set(ready) == set(MODEL_SERVICES), text[-2000:]
        with Client(gateway, timeout=30) as client:
            listed = {m["name"]: m for m in client.models()}
            for name in ready:
                answer = client.predict(name, example(name))
                assert answer.model_version == state[name]["version"]
                assert listed[name]["ready"] is True
        assert run_demo(gateway) == 0  # `finfleet demo`: every model and fan-out route answers
        for name in state:
            assert (tmp_path / "logs" / f"{name}.log").is_file()

        # A crashed service is reported; the launcher and every other process keep running.
        os.kill(state["credit"]["pid"], signal.SIGKILL)
        _wait_for(out, proc, "credit exited with code", timeout=30)
        others = [name for name in state if name != "credit"]
        assert all(_pid_alive(state[name]["pid"]) for name in others)
        assert httpx.get(f"{gateway}/health/live", timeout=30).status_code == 200
        with Client(gateway, timeout=30) as client, pytest.raises(Unavailable) as down:
            client.predict("credit", {**example("credit"), "age": 51})  # uncached
        assert down.value.status == 503 and "credit" in down.value.detail
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, out.read_text()[-2000:]
    assert "fleet stopped" in out.read_text()
    for name, info in state.items():
        assert not _pid_alive(info["pid"]), f"{name} (pid {info['pid']}) outlived the launcher"
        assert _port_free(info["port"]), f"{name}'s port {info['port']} is still held"


def test_a_port_in_use_is_named(tmp_path, ports):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(ports["CREDIT_PORT"])))
        holder.listen()
        proc, out = _launch(tmp_path, ports, "--no-train")
        assert proc.wait(timeout=60) == 1
    assert f"port {ports['CREDIT_PORT']} (credit) is already in use" in out.read_text()


def test_plan_skips_services_whose_code_is_missing():
    table = load_catalog().model_dump(by_alias=True)
    table["service"] = [*table["service"], {**table["service"][-1], "name": "ghost",
                                            "port": 9199, "module": "no_such_package.ghost"}]
    plan = build_plan({"CREDIT_PORT": "9105"}, Catalog.model_validate(table))
    assert [p.name for p in plan.processes] == [*MODEL_SERVICES, "trainer", "monitor",
                                               "gateway"]
    assert next(p for p in plan.processes if p.name == "credit").env["CREDIT_PORT"] == "9105"
    assert plan.missing == ["ghost"]


def test_plan_points_the_gateway_at_the_chosen_ports():
    plan = build_plan({"CREDIT_PORT": "9105", "GATEWAY_PORT": "9100"})
    gateway = next(p for p in plan.processes if p.name == "gateway")
    assert gateway.port == 9100
    assert json.loads(gateway.env["GATEWAY_UPSTREAMS"])["credit"] == "http://127.0.0.1:9105"
    trainer = next(p for p in plan.processes if p.name == "trainer")
    assert gateway.env["GATEWAY_TRAINER_URL"] == trainer.url
    monitor = next(p for p in plan.processes if p.name == "monitor")
    assert gateway.env["GATEWAY_MONITOR_URL"] == monitor.url
    assert monitor.env["MONITOR_LOG_DIR"] == str(REPO_ROOT / "logs" / "predictions")


def test_a_candidate_replica_is_planned_beside_its_service_at_lower_priority():
    plan = build_plan({"CREDIT_PORT": "9105", "FLEET_CANDIDATES": "credit"})
    replica = next(p for p in plan.processes if p.name == "credit-candidate")
    assert replica.port == 9205 and replica.nice == 10
    assert replica.command[:3] == ["nice", "-n", "10"]
    assert replica.env["CREDIT_MODEL_ALIAS"] == "candidate"
    gateway = next(p for p in plan.processes if p.name == "gateway")
    assert json.loads(gateway.env["GATEWAY_CANDIDATE_UPSTREAMS"]) == {"credit": replica.url}
    assert "GATEWAY_CANDIDATE_UPSTREAMS" not in next(
        p for p in build_plan({}).processes if p.name == "gateway").env


def test_short_view_hides_request_lines_and_summarises_others():
    request = b'{"ts":"t","level":"info","logger":"x","msg":"request","route":"/v1"}\n'
    loaded = b'{"ts":"t","level":"info","logger":"x","msg":"model loaded","version":"v1"}\n'
    assert short_view(request) is None
    assert short_view(loaded) == "info model loaded (version=v1)"
    assert short_view(b"plain text\n") == "plain text"
