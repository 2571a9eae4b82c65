"""The Ray Serve peer: a one-node Ray cluster on loopback from `bench/.venv-ray`, and the credit
booster deployed by `bench/peers/ray_app.py` as two apps of one replica each: `/ray` with
`max_ongoing_requests` at Serve's default (5) and `/ray-m64` with 64.

Ray binds many servers of its own (GCS, raylet, object manager, agents, metrics, every worker's
gRPC port). Every port is pinned with a flag, and the node address is loopback:
`--node-ip-address=127.0.0.1` alone is not enough, as `ray start` swaps a loopback address for
the machine's own (`resolve_ip_for_localhost`) unless `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`
says this is a single-machine "cluster". The fleet then checks every socket of the tree
(bench/listen.py). Stopping kills the tree by pid (and any process of this cluster's temp dir
that left the tree), never `ray stop`, which would stop every Ray on the machine.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import peer_venv
from kit.procs import Proc, ProcessError, free_port, start, wait_for_port

NAME = "ray"
VENV = peer_venv.venv_path(NAME)
PACKAGES = ("ray[serve]==2.60.0", "xgboost-cpu==3.2.0")
APP = Path(__file__).resolve().parent / "peers" / "ray_app.py"
ROUTES = {"ray": "/ray", "ray-m64": "/ray-m64"}  # bench route → Serve route (ray_app.ROUTES)
READY_PATH = "/-/healthz"
WORKER_PORTS = 40
DEPLOY_TIMEOUT_S = 240.0
ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass
class RayProc(Proc):
    """`ray start --block` and the cluster it runs; `stop` leaves none of it behind."""

    temp_dir: Path = field(default_factory=Path)

    def pids(self) -> list[int]:
        """The tree of `ray start`, and the cluster's processes that left it (actors)."""
        return sorted(set(super().pids()) | set(session_pids(self.temp_dir)))

    def stop(self, timeout_s: float = 10.0) -> None:
        pids = set(self.pids())
        super().stop(timeout_s)
        for pid in pids | set(session_pids(self.temp_dir)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def session_pids(temp_dir: Path) -> list[int]:
    """Processes whose command line names this cluster's temp dir (its raylet, agents, workers)."""
    mark = str(temp_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if mark in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def free_range(count: int, tries: int = 50) -> int:
    """The first port of `count` consecutive ports free on 127.0.0.1 now (for Ray's workers)."""
    for _ in range(tries):
        first = random.randrange(20_000, 32_000)
        try:
            with contextlib.ExitStack() as stack:
                for port in range(first, first + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise peer_venv.PeerUnavailable(f"no {count} consecutive free ports for Ray's workers")


def start_argv(binary: Path, temp_dir: Path, ports: dict[str, int]) -> list[str]:
    return [str(binary), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
            f"--port={ports['gcs']}", "--include-dashboard=false", "--dashboard-host=127.0.0.1",
            f"--metrics-export-port={ports['metrics']}",
            f"--min-worker-port={ports['workers']}",
            f"--max-worker-port={ports['workers'] + WORKER_PORTS - 1}",
            f"--ray-client-server-port={ports['client']}",
            f"--node-manager-port={ports['node_manager']}",
            f"--object-manager-port={ports['object_manager']}",
            f"--dashboard-agent-listen-port={ports['agent_http']}",
            f"--dashboard-agent-grpc-port={ports['agent_grpc']}",
            f"--runtime-env-agent-port={ports['runtime_env']}",
            f"--temp-dir={temp_dir}", "--num-cpus=2", "--disable-usage-stats"]


def start_peer(artifact_dir: Path, work: Path, logs: Path) -> RayProc:
    """Install on first use, start the cluster, deploy both apps (waits for them: `serve.run`
    returns once its replica is up). Raises PeerUnavailable, the cluster stopped, on failure."""
    booster = peer_venv.booster(artifact_dir)
    binary = peer_venv.ensure(VENV, PACKAGES, "ray")
    # A short path: Ray's unix sockets live under it and must fit in 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="ffray-", dir="/tmp"))
    names = ("gcs", "metrics", "client", "node_manager", "object_manager", "agent_http",
             "agent_grpc", "runtime_env", "http")
    ports = {name: free_port() for name in names} | {"workers": free_range(WORKER_PORTS)}
    env = {**ENV, "BENCH_BOOSTER": str(booster), "BENCH_HTTP_PORT": str(ports["http"])}
    plain = start(NAME, start_argv(binary, temp_dir, ports), logs / f"{NAME}.log", cwd=work,
                  url=f"http://127.0.0.1:{ports['http']}", env=env)
    proc = RayProc(plain.name, plain.popen, plain.log, plain.url, temp_dir=temp_dir)
    try:
        wait_for_port(proc, ports["gcs"], timeout_s=120)
        deploy_log = logs / f"{NAME}-deploy.log"
        with deploy_log.open("wb") as out:
            done = subprocess.run([str(VENV / "bin" / "python"), str(APP),
                                   f"127.0.0.1:{ports['gcs']}"], cwd=work, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=DEPLOY_TIMEOUT_S,
                                  env={**os.environ, **env})
        if done.returncode != 0:
            tail = deploy_log.read_text(errors="replace").strip().splitlines()[-3:]
            raise peer_venv.PeerUnavailable(f"deploying the Serve apps failed (exit "
                                            f"{done.returncode}, {deploy_log}): {' / '.join(tail)}")
    except (ProcessError, subprocess.TimeoutExpired, OSError) as exc:
        proc.stop()
        raise peer_venv.PeerUnavailable(str(exc).splitlines()[0]) from exc
    except peer_venv.PeerUnavailable:
        proc.stop()
        raise
    return proc


def version() -> str:
    return peer_venv.installed_version(VENV, "ray")
