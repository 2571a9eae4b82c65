"""Real processes for fleet tests: free ports, redis-server, model services, the gateway, nginx.

A missing binary skips the test with a message, except in CI (`CI=true`), where it fails.
Every helper returns a `Proc` that `stop()`s its own process only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# One credit application the fleet tests send through the gateway.
APPLICANT = {"age": 35, "income": 85000, "loan_amount": 500000, "tenure_months": 36,
             "existing_emis": 5000, "credit_history_months": 60, "delinquencies": 0,
             "utilisation": 0.3, "employment_type": "salaried"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_binary(name: str, hint: str | None = None) -> str:
    """The tool's path (PATH, sbin, or this venv's bin); in CI (`CI=true`) a missing tool fails
    the run, elsewhere the test skips with a message saying how to install it."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent)) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/local/sbin") / name)
         if p.is_file()), None)
    if path:
        return path
    message = f"`{name}` is not installed ({hint or f'apt-get install -y {name}'})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class Proc:
    """A started process, its log file, and how to reach it."""

    def __init__(self, name: str, popen: subprocess.Popen, log: Path, url: str = "") -> None:
        self.name = name
        self.popen = popen
        self.log = log
        self.url = url

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def _spawn(name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None,
           url: str = "") -> Proc:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                           full_env.get("PYTHONPATH")]))
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, cwd=REPO_ROOT, env=full_env, stdout=out,
                                 stderr=subprocess.STDOUT)
    return Proc(name, popen, log, url)


def wait_for_port(proc: Proc, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited early:\n{proc.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.stop()
    raise AssertionError(f"{proc.name} did not listen on {port}:\n{proc.log_tail()}")


def wait_ready(proc: Proc, timeout: float = 60.0, path: str = "/health/ready") -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited early:\n{proc.log_tail()}")
        try:
            with urllib.request.urlopen(proc.url + path, timeout=1) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")
            if "failed" in last:
                break
        except OSError:
            pass
        time.sleep(0.1)
    proc.stop()
    raise AssertionError(f"{proc.name} never became ready ({last}):\n{proc.log_tail()}")


def start_redis(log_dir: Path) -> Proc:
    binary = require_binary("redis-server")
    port = free_port()
    proc = _spawn("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", str(log_dir)], log_dir,
                  url=f"redis://127.0.0.1:{port}/0")
    wait_for_port(proc, port)
    return proc


def start_python_service(name: str, module_argv: list[str], env: dict[str, str], port: int,
                         log_dir: Path, timeout: float = 60.0) -> Proc:
    """`python -m <module_argv>` with env; waits for /health/ready."""
    proc = _spawn(name, [sys.executable, "-m", *module_argv], log_dir, env,
                  url=f"http://127.0.0.1:{port}")
    wait_ready(proc, timeout)
    return proc


def start_credit(model_dir: Path, log_dir: Path, port: int | None = None) -> Proc:
    port = port or free_port()
    env = {"CREDIT_PORT": str(port), "CREDIT_HOST": "127.0.0.1",
           "CREDIT_MODEL_DIR": str(model_dir), "CREDIT_LOG_LEVEL": "WARNING"}
    return start_python_service("credit", ["services.credit"], env, port, log_dir)


def train_credit(model_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "services.credit.train", "--model-dir",
                    str(model_dir), "--quick"], cwd=REPO_ROOT, check=True,
                   capture_output=True, timeout=300)


def start_echo(name: str, model_dir: Path, log_dir: Path) -> Proc:
    """A real kit-based service that echoes instances, standing in for `name`."""
    port = free_port()
    env = {"ECHO_PORT": str(port), "ECHO_MODEL_DIR": str(model_dir), "ECHO_LOG_LEVEL": "WARNING"}
    return start_python_service(f"echo-{name}", ["gateway.tests.echo_service", name], env, port,
                                log_dir)


def start_gateway(env: dict[str, str], log_dir: Path) -> Proc:
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1", "GATEWAY_LOG_LEVEL": "WARNING",
           **env}
    return start_python_service("gateway", ["gateway"], env, port, log_dir)


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a rendered config."""
    binary = require_binary("nginx")
    return subprocess.run([binary, "-t", "-c", str(conf), "-p", str(prefix)],
                          capture_output=True, text=True, timeout=30)


def start_nginx(conf: Path, prefix: Path, port: int) -> Proc:
    binary = require_binary("nginx")
    proc = _spawn("nginx", [binary, "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
                  prefix, url=f"http://127.0.0.1:{port}")
    wait_for_port(proc, port)
    return proc


def trained_credit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model dir with one quick credit model, trained once per test session."""
    model_dir = tmp_path_factory.getbasetemp() / "credit-models"
    if not (model_dir / "credit").is_dir():
        train_credit(model_dir)
    return model_dir


def copy_as_new_version(model_dir: Path, name: str, version: str) -> None:
    """Publish the newest version again under a new version name (what a retrain looks like
    to a running fleet, without the retraining time)."""
    import json

    root = model_dir / name
    newest = sorted(p for p in root.iterdir() if (p / "manifest.json").is_file())[-1]
    target = root / version
    shutil.copytree(newest, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
