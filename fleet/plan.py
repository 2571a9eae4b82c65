"""What `make run` starts: which services exist, their ports, commands and environment."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kit.catalog import Catalog, load_catalog
from kit.settings import REPO_ROOT
from trainer.settings import TrainerSettings

TRAINER_PORT = TrainerSettings.model_fields["port"].default
CANDIDATE_PORT_OFFSET = 100  # FLEET_CANDIDATES=credit: credit-candidate on credit's port + 100
CANDIDATE_NICE = 10


@dataclass
class Process:
    """One process of the fleet: a model service or the gateway."""

    name: str
    module: str
    port: int
    host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)
    trainer: str | None = None  # module that trains its model, when it has one
    nice: int = 0  # lower CPU priority (a candidate's replica: shadow work yields to callers)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def command(self) -> list[str]:
        python = [sys.executable, "-m", self.module]
        return ["nice", "-n", str(self.nice), *python] if self.nice else python


@dataclass
class FleetPlan:
    processes: list[Process]
    missing: list[str]  # services whose code is not there yet: not started, said so


def _port(name: str, default: int, environ: dict[str, str]) -> int:
    raw = environ.get(f"{name.upper()}_PORT", str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name.upper()}_PORT={raw!r} is not a port number") from exc


def module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def build_plan(environ: dict[str, str] | None = None, catalog: Catalog | None = None,
               ) -> FleetPlan:
    """Every service of the table whose code is present, then the gateway pointed at them."""
    environ = dict(os.environ if environ is None else environ)
    catalog = catalog or load_catalog()
    host = environ.get("FLEET_HOST", "127.0.0.1")
    model_dir = environ.get("FLEET_MODEL_DIR", str(REPO_ROOT / "models"))
    processes, missing, upstreams, candidates = [], [], {}, {}
    wanted = {n.strip() for n in environ.get("FLEET_CANDIDATES", "").split(",") if n.strip()}
    for row in catalog.services:
        name = row.name
        port = _port(name, row.port, environ)
        upstreams[name] = f"http://{host}:{port}"
        if not module_exists(f"{row.module_name}.app"):
            missing.append(name)
            continue
        prefix = row.env_prefix
        env = {f"{prefix}HOST": host, f"{prefix}PORT": str(port),
               f"{prefix}MODEL_DIR": environ.get(f"{prefix}MODEL_DIR", model_dir)}
        trainer = row.trainer_module if module_exists(row.trainer_module) else None
        processes.append(Process(name, row.module_name, port, host, env, trainer))
        if name in wanted:
            replica = candidate_replica(name, row.module_name, prefix, port + CANDIDATE_PORT_OFFSET,
                                        host, env, environ)
            processes.append(replica)
            candidates[name] = replica.url
    trainer_url = None
    if module_exists("trainer.app"):  # training jobs, into the store the services serve from
        port = _port("trainer", TRAINER_PORT, environ)
        trainer_url = f"http://{host}:{port}"
        env = {"TRAINER_HOST": host, "TRAINER_PORT": str(port),
               "TRAINER_MODEL_DIR": environ.get("TRAINER_MODEL_DIR", model_dir)}
        processes.append(Process("trainer", "trainer", port, host, env))
    monitor_url = None
    if module_exists("monitor.app"):  # drift: reads the log the services write beside model_dir
        from monitor.settings import MONITOR_PORT

        port = _port("monitor", MONITOR_PORT, environ)
        monitor_url = f"http://{host}:{port}"
        env = {"MONITOR_HOST": host, "MONITOR_PORT": str(port),
               "MONITOR_MODEL_DIR": environ.get("MONITOR_MODEL_DIR", model_dir),
               "MONITOR_LOG_DIR": environ.get("MONITOR_LOG_DIR", str(
                   Path(model_dir).parent / "logs" / "predictions"))}
        processes.append(Process("monitor", "monitor", port, host, env))
    if module_exists("gateway.app"):
        port = _port("gateway", catalog.gateway.port, environ)
        env = {"GATEWAY_HOST": host, "GATEWAY_PORT": str(port)}
        if "GATEWAY_UPSTREAMS" not in environ:
            env["GATEWAY_UPSTREAMS"] = json.dumps(upstreams)
        if candidates and "GATEWAY_CANDIDATE_UPSTREAMS" not in environ:
            env["GATEWAY_CANDIDATE_UPSTREAMS"] = json.dumps(candidates)
        if trainer_url and "GATEWAY_TRAINER_URL" not in environ:
            env["GATEWAY_TRAINER_URL"] = trainer_url
        if monitor_url and "GATEWAY_MONITOR_URL" not in environ:
            env["GATEWAY_MONITOR_URL"] = monitor_url
        processes.append(Process("gateway", "gateway", port, host, env))
    else:
        missing.append("gateway")
    return FleetPlan(processes, missing)


def candidate_replica(name: str, module: str, prefix: str, default_port: int, host: str,
                      env: dict[str, str], environ: dict[str, str]) -> Process:
    """`<name>-candidate`: the service again, following the `candidate` alias, at a lower CPU
    priority, for the gateway's canary and shadow calls (`GATEWAY_CANDIDATE_UPSTREAMS`), so a
    shadow's predict never runs in production's process (docs/releases.md)."""
    port = _port(f"{name}_candidate", default_port, environ)
    own = {**env, f"{prefix}PORT": str(port), f"{prefix}MODEL_ALIAS": "candidate"}
    return Process(f"{name}-candidate", module, port, host, own, nice=CANDIDATE_NICE)


def busy_ports(processes: list[Process]) -> list[Process]:
    """The processes whose port something else already holds."""
    taken = []
    for proc in processes:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((proc.host, proc.port))
            except OSError:
                taken.append(proc)
    return taken


def has_model(proc: Process) -> bool:
    model_dir = Path(proc.env.get(f"{proc.name.upper()}_MODEL_DIR", REPO_ROOT / "models"))
    return any((model_dir / proc.name).glob("*/manifest.json"))
