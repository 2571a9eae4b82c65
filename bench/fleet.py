"""The servers a bench run measures: model services, the gateway and the MLServer peer.

Each one is a real process on a free 127.0.0.1 port, started the way it is deployed
(`python -m services.<name>`, `python -m gateway`, `mlserver start`). A part that cannot be
started is recorded as skipped with the reason, and the points that need it are skipped too.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from bench import bentoml_peer, footprint, listen, mlserver, model_venv, peer_venv, ray_peer, shadow
from bench.goals import WORKERS
from bench.points import (
    BEFORE_SERVICES,
    FLOOR,
    NOLOG_SERVICE,
    SERVICES,
    WORKERS_SERVICE,
    before_target,
)
from kit.artifacts import ArtifactStore
from kit.procs import (
    Proc,
    ProcessError,
    free_port,
    start,
    start_gateway,
    start_python,
    start_service,
    wait_ready,
)
from kit.settings import REPO_ROOT

READY_TIMEOUT_S = 240.0
CANDIDATE_TIMEOUT_S = 60.0  # the service loading the candidate, the gateway's poll seeing it


def module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def ensure_model(name: str, model_dir: Path, train: bool) -> str:
    """The newest version of `name` under model_dir, training one first when none exists."""
    store = ArtifactStore(model_dir, name)
    if not store.versions():
        if not train:
            raise RuntimeError(f"no trained model under {model_dir / name} (--no-train given)")
        if not module_exists(f"services.{name}.train"):
            raise RuntimeError(f"no model under {model_dir / name} and no services.{name}.train")
        print(f"bench: no {name} model under {model_dir}: training one "
              f"(`python -m services.{name}.train --model-dir {model_dir}`)", flush=True)
        done = subprocess.run([sys.executable, "-m", f"services.{name}.train",
                               "--model-dir", str(model_dir)], cwd=REPO_ROOT)
        if done.returncode != 0 or not store.versions():
            raise RuntimeError(f"training {name} failed (exit {done.returncode})")
    return store.versions()[-1]


class Fleet:
    """Starts servers, remembers why a part was skipped, and stops everything it started."""

    def __init__(self, work: Path, model_dir: Path, own_envs: bool = True) -> None:
        self.work = work
        self.own_envs = own_envs  # each server from its image's venv (bench/model_venv.py)
        self.envs: dict[str, Path] = {}  # server → the venv it runs from, where not this one
        self._pythons: dict[str, str | None] = {}  # image → its interpreter (None: this one)
        self.model_dir = model_dir
        self.servers: dict[str, Proc] = {}
        self.versions: dict[str, str] = {}
        self.skipped: list[dict[str, str]] = []
        self.logs = work / "logs"
        self.setup_s = 0.0  # spent training missing models and installing MLServer
        self.temp_dirs: list[Path] = []
        self.started: dict[str, float] = {}  # monotonic time each server was started
        self.ready_s: dict[str, float] = {}  # from its start until it answered ready

    def python_for(self, server: str, image: str) -> str | None:
        """The interpreter of `image`'s own venv, for `server`; None (this interpreter, the
        project venv) when own environments are off or the image's could not be built, which
        is recorded with the reason."""
        if not self.own_envs:
            return None
        if image not in self._pythons:
            began = time.monotonic()
            try:
                self._pythons[image] = str(model_venv.ensure(image))
            except peer_venv.PeerUnavailable as exc:
                self._pythons[image] = None
                self.skip(f"the {image} image's environment", f"{exc}; the project venv serves")
            finally:
                self.setup_s += time.monotonic() - began
        python = self._pythons[image]
        if python:
            self.envs[server] = model_venv.venv_path(image)
        return python

    def skip(self, what: str, reason: str) -> None:
        print(f"bench: skipped {what}: {reason}", flush=True)
        self.skipped.append({"what": what, "reason": reason})

    def start_services(self, names: list[str], train: bool) -> None:
        """Start every available service at once (they load in parallel), then wait for each.
        Their models are found (or trained) and their environments built first, so neither
        counts in a start-up time."""
        runnable = []
        for name in names:
            entry = SERVICES[name]
            if not module_exists(f"{entry.module}.__main__"):
                self.skip(name, f"`python -m {entry.module}` does not exist yet")
                continue
            began = time.monotonic()
            try:
                self.versions[name] = ensure_model(name, self.model_dir, train)
            except RuntimeError as exc:
                self.skip(name, str(exc))
                continue
            finally:
                self.setup_s += time.monotonic() - began
            runnable.append(name)
        pythons = {name: self.python_for(name, name) for name in runnable}
        for name in runnable:
            log_dir = {f"{SERVICES[name].env_prefix}LOG_DIR": str(self.work / "predictions")}
            self.started[name] = time.monotonic()
            self.servers[name] = start_service(name, self.model_dir, self.logs, wait=False,
                                               env=log_dir, python=pythons[name])
        for name in runnable:
            self._wait(name, "/health/ready")

    def start_gateway(self) -> None:
        if not module_exists("gateway.__main__"):
            self.skip("gateway", "`python -m gateway` does not exist yet")
            return
        upstreams = {name: s.url for name, s in self.servers.items() if name in SERVICES}
        python = self.python_for("gateway", "gateway")
        self.started["gateway"] = time.monotonic()
        self.servers["gateway"] = start_gateway({"GATEWAY_UPSTREAMS": json.dumps(upstreams)},
                                                self.logs, wait=False, python=python)
        self._wait("gateway", "/health/ready")

    def start_shadow(self) -> None:
        """The candidate on a credit replica of its own (the production model under another
        version name, in a temporary model dir, served as `<PREFIX>MODEL_ALIAS=candidate` at
        a lower CPU priority) and a second gateway in front of the same production service,
        shadowing every credit request to that replica (`GATEWAY_CANDIDATE_UPSTREAMS`); the
        plain gateway is left as it is."""
        name, prefix = shadow.MODEL, SERVICES[shadow.MODEL].env_prefix
        if name not in self.servers or "gateway" not in self.servers:
            self.skip(shadow.SHADOW_GATEWAY, "needs the credit service and the gateway running")
            return
        version = shadow.production_version(self.model_dir)
        if version is None:
            self.skip(shadow.SHADOW_GATEWAY, f"no credit version under {self.model_dir}")
            return
        model_dir = Path(tempfile.mkdtemp(prefix="finfleet-bench-shadow-"))
        self.temp_dirs.append(model_dir)
        candidate = shadow.candidate_model_dir(self.model_dir, version, model_dir)
        port = free_port()
        self.servers[shadow.SHADOW_SERVICE] = start_python(
            shadow.SHADOW_SERVICE, [SERVICES[name].module], self.logs, port=port, wait=False,
            nice=shadow.CANDIDATE_NICE, python=self.python_for(shadow.SHADOW_SERVICE, name),
            env={f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port),
                 f"{prefix}MODEL_DIR": str(model_dir), f"{prefix}MODEL_ALIAS": "candidate"})
        self._wait(shadow.SHADOW_SERVICE, "/health/ready")
        service = self.servers.get(shadow.SHADOW_SERVICE)
        if service is None:
            return
        if not shadow.wait_until(lambda: shadow.service_serves(service.url, candidate),
                                 CANDIDATE_TIMEOUT_S):
            self.skip(shadow.SHADOW_GATEWAY, f"the candidate replica never served {candidate} "
                                             f"(log: {service.log})")
            return
        nice = shadow.CANDIDATE_NICE
        self.versions[shadow.SHADOW_SERVICE] = f"candidate {candidate} (nice {nice})"
        upstreams = {n: s.url for n, s in self.servers.items() if n in SERVICES}
        port = free_port()
        self.servers[shadow.SHADOW_GATEWAY] = start_python(
            shadow.SHADOW_GATEWAY, ["gateway"], self.logs, port=port, wait=False,
            python=self.python_for(shadow.SHADOW_GATEWAY, "gateway"),
            env={"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
                 "GATEWAY_UPSTREAMS": json.dumps(upstreams),
                 "GATEWAY_CANDIDATE_UPSTREAMS": json.dumps({name: service.url}),
                 "GATEWAY_TRAFFIC": json.dumps(shadow.TRAFFIC)})
        self._wait(shadow.SHADOW_GATEWAY, "/health/ready")
        gateway = self.servers.get(shadow.SHADOW_GATEWAY)
        if gateway is None:
            return
        if not shadow.wait_until(lambda: shadow.gateway_knows(gateway.url, candidate),
                                 CANDIDATE_TIMEOUT_S):
            self.servers.pop(shadow.SHADOW_GATEWAY).stop()
            self.skip(shadow.SHADOW_GATEWAY, f"the gateway never saw the candidate {candidate} "
                                             f"(GET /v1/models/credit/traffic; log: {gateway.log})")
            return
        print(f"bench: {shadow.SHADOW_GATEWAY} shadows credit {version} to {candidate}",
              flush=True)

    def start_before(self, checkout: Path, names: Iterable[str] = BEFORE_SERVICES) -> None:
        """The `names` services (of credit, intent and NER) of another checkout (the base
        commit's worktree) on the same models, run from that checkout so its code is imported: V1
        before a change, measured in the same rounds as V1 after it."""
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        for name in (n for n in BEFORE_SERVICES if n in set(names)):
            target, entry = before_target(name), SERVICES[name]
            if name not in self.servers:
                self.skip(target, f"the {name} service is not running")
                continue
            if not (checkout / "services" / name / "__main__.py").is_file():
                self.skip(target, f"{checkout} holds no services/{name}")
                continue
            port, prefix = free_port(), entry.env_prefix
            python = self.python_for(target, name) or sys.executable
            self.servers[target] = start(
                target, [python, "-m", entry.module], self.logs / f"{target}.log",
                cwd=checkout, url=f"http://127.0.0.1:{port}",
                env={f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port),
                     f"{prefix}MODEL_DIR": str(self.model_dir)})
            self._wait(target, "/health/ready")
            self.versions[target] = f"{self.versions.get(name)} on {commit or checkout}"

    def start_nolog(self, name: str) -> None:
        """A second `name` service on the same models with its prediction log off, for the
        log-off twins (the plain service logs every request)."""
        self._start_twin(NOLOG_SERVICE, name, {"LOG_SAMPLE_RATE": "0"})

    def start_workers(self, name: str) -> None:
        """A second `name` service on the same models as WORKERS worker processes on one port,
        its log on as the plain one's, in a folder of its own (kit/serve.py)."""
        self._start_twin(WORKERS_SERVICE, name, {
            "WORKERS": str(WORKERS), "LOG_DIR": str(self.work / f"{WORKERS_SERVICE}-log")})

    def _start_twin(self, target: str, name: str, settings: dict[str, str]) -> None:
        """`target`: the `name` service again, on the same models, with these settings."""
        if name not in self.servers:
            self.skip(target, f"the {name} service is not running")
            return
        prefix, port = SERVICES[name].env_prefix, free_port()
        env = {"HOST": "127.0.0.1", "PORT": str(port), "MODEL_DIR": str(self.model_dir),
               **settings}
        self.servers[target] = start_python(
            target, [SERVICES[name].module], self.logs, port=port, wait=False,
            python=self.python_for(target, name),
            env={f"{prefix}{key}": value for key, value in env.items()})
        self._wait(target, "/health/ready")
        self.versions[target] = self.versions.get(name, "")

    def start_mlserver(self) -> None:
        if "credit" not in self.servers:
            self.skip("mlserver", "the credit service is not running, so there is no model")
            return
        artifact_dir = self.model_dir / "credit" / self.versions["credit"]
        began = time.monotonic()
        try:
            binary = mlserver.ensure_venv()
            root = mlserver.prepare_model(artifact_dir, self.work, http_port=(port := free_port()),
                                          grpc_port=free_port(), metrics_port=free_port())
        except (FileNotFoundError, peer_venv.PeerUnavailable) as exc:
            self.skip("mlserver", str(exc))
            return
        finally:
            self.setup_s += time.monotonic() - began
        self.versions["mlserver"] = mlserver.installed_version()
        self.started["mlserver"] = time.monotonic()
        self.servers["mlserver"] = start(
            "mlserver", mlserver.start_argv(binary, root), self.logs / "mlserver.log",
            cwd=self.work, url=f"http://127.0.0.1:{port}")
        self._wait("mlserver", mlserver.READY_PATH)
        self.check_loopback("mlserver")

    def start_peer(self, peer) -> None:
        """BentoML or Ray Serve (`bench/bentoml_peer.py`, `bench/ray_peer.py`) on the credit
        booster: installed on first use, skipped with the reason when it cannot be built or
        started, stopped again when it listens beyond loopback."""
        name = peer.NAME
        if "credit" not in self.servers:
            self.skip(name, "the credit service is not running, so there is no model")
            return
        artifact_dir = self.model_dir / "credit" / self.versions["credit"]
        began = time.monotonic()
        if not (peer.VENV / "bin" / name).is_file():
            try:
                peer_venv.ensure(peer.VENV, peer.PACKAGES, name)
            except peer_venv.PeerUnavailable as exc:
                self.skip(name, str(exc))
                return
            finally:
                self.setup_s += time.monotonic() - began
        began = time.monotonic()
        try:
            self.servers[name] = peer.start_peer(artifact_dir, self.work, self.logs)
        except (FileNotFoundError, peer_venv.PeerUnavailable) as exc:
            self.skip(name, str(exc))
            return
        finally:
            self.setup_s += time.monotonic() - began
        self.started[name] = began
        self.versions[name] = peer.version()
        self._wait(name, peer.READY_PATH)
        self.check_loopback(name)

    def start_bentoml(self) -> None:
        self.start_peer(bentoml_peer)

    def start_ray(self) -> None:
        self.start_peer(ray_peer)

    def start_floor(self) -> None:
        """The trivial route on the services' stack (`python -m bench.floor`)."""
        port = free_port()
        python = self.python_for(FLOOR, "credit")  # the stack credit serves on, nothing more
        self.started[FLOOR] = time.monotonic()
        self.servers[FLOOR] = start_python(
            FLOOR, ["bench.floor"], self.logs, port=port, wait=False, python=python,
            env={"FLOOR_HOST": "127.0.0.1", "FLOOR_PORT": str(port)})
        self._wait(FLOOR, "/health/ready")
        self.versions[FLOOR] = "FastAPI on kit.serve"
        self.check_loopback(FLOOR)

    def check_loopback(self, name: str) -> None:
        """The loopback rule (bench/listen.py): a server listening beyond 127.0.0.1 is stopped
        and skipped, with every such socket named."""
        server = self.servers.get(name)
        if server is None:
            return
        bad = listen.violations(server.pids())
        if bad:
            self.servers.pop(name).stop()
            self.skip(name, "listens beyond 127.0.0.1, so it was stopped: " + ", ".join(bad))

    def _wait(self, name: str, path: str) -> None:
        started = time.monotonic()
        try:
            wait_ready(self.servers[name], path, READY_TIMEOUT_S)
        except ProcessError as exc:
            self.servers.pop(name)
            self.skip(name, str(exc).splitlines()[0])
            return
        if name in self.started:
            self.ready_s[name] = round(time.monotonic() - self.started[name], 1)
        print(f"bench: {name} ready in {time.monotonic() - started:.1f}s at "
              f"{self.servers[name].url}", flush=True)

    def rss_mb(self) -> dict[str, float]:
        return {name: server.rss_mb() for name, server in self.servers.items()}

    def pss_mb(self) -> dict[str, float | None]:
        return {name: footprint.pss_mb(server.pids()) for name, server in self.servers.items()}

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()
        for folder in self.temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
