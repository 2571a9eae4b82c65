"""Real processes for the fleet tests, on top of `kit.procs`: what only tests need.

A missing binary skips the test with a message, except in CI (`CI=true`), where it fails.
Services and the gateway log at WARNING (a test reads answers, not request logs), and the credit
model they serve is trained once per session.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from kit import procs
from kit.catalog import load_catalog
from kit.procs import Proc, free_port, start, wait_for_port
from kit.settings import REPO_ROOT

__all__ = ["APPLICANT", "REPO_ROOT", "PostgresServer", "Proc", "copy_as_new_version", "free_port",
           "nginx_test", "require_binary", "start_credit", "start_echo", "start_gateway",
           "start_monitor", "start_nginx", "start_redis", "train_credit", "trained_credit_dir",
           "upstreams_with"]

# The credit application the fleet tests send through the gateway: the table's example.
APPLICANT = dict(load_catalog().service("credit").example)


def require_binary(name: str, hint: str | None = None) -> str:
    """The tool's path (`kit.procs.find_binary`); in CI (`CI=true`) a missing tool fails the run,
    elsewhere the test skips with a message saying how to install it."""
    path = procs.find_binary(name)
    if path:
        return path
    message = f"`{name}` is not installed ({hint or f'apt-get install -y {name}'})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def upstreams_with(**real: str) -> dict[str, str]:
    """GATEWAY_UPSTREAMS for a gateway in front of `real` (name → URL): every other model of the
    table at a closed port, so it answers 503 for them."""
    return {row.name: real.get(row.name) or f"http://127.0.0.1:{free_port()}"
            for row in load_catalog().services}


def start_redis(log_dir: Path) -> Proc:
    return procs.start_redis(log_dir, require_binary("redis-server"))


def start_credit(model_dir: Path, log_dir: Path, port: int | None = None) -> Proc:
    return procs.start_service("credit", model_dir, log_dir, port=port,
                               env={"CREDIT_LOG_LEVEL": "WARNING"})


def train_credit(model_dir: Path) -> None:
    procs.train("credit", model_dir, "--quick", timeout_s=300)


def start_echo(name: str, model_dir: Path, log_dir: Path) -> Proc:
    """A real kit-based service that echoes instances, standing in for `name`."""
    port = free_port()
    env = {"ECHO_PORT": str(port), "ECHO_MODEL_DIR": str(model_dir), "ECHO_LOG_LEVEL": "WARNING"}
    return procs.start_python(f"echo-{name}", ["gateway.tests.echo_service", name], log_dir,
                              port=port, env=env)


def start_monitor(env: dict[str, str], log_dir: Path) -> Proc:
    """`python -m monitor` (the drift monitor) on a free port with `env` (MONITOR_*)."""
    port = free_port()
    settings = {"MONITOR_HOST": "127.0.0.1", "MONITOR_PORT": str(port),
                "MONITOR_LOG_LEVEL": "WARNING", **env}
    return procs.start_python("monitor", ["monitor"], log_dir, port=port, env=settings)


def start_gateway(env: dict[str, str], log_dir: Path) -> Proc:
    return procs.start_gateway({"GATEWAY_LOG_LEVEL": "WARNING", **env}, log_dir)


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a rendered config."""
    binary = require_binary("nginx")
    return subprocess.run([binary, "-t", "-c", str(conf), "-p", str(prefix)],
                          capture_output=True, text=True, timeout=30)


def start_nginx(conf: Path, prefix: Path, port: int) -> Proc:
    binary = require_binary("nginx")
    proc = start("nginx", [binary, "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
                 prefix / "nginx.log", url=f"http://127.0.0.1:{port}")
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
    root = model_dir / name
    newest = sorted(p for p in root.iterdir() if (p / "manifest.json").is_file())[-1]
    target = root / version
    shutil.copytree(newest, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))


class PostgresServer:
    """A throwaway PostgreSQL on a free loopback port, stopped and started again at will (the
    data stays). It refuses to run as root, so initdb and postgres run as the `postgres` user
    (setpriv: the server is then the process we signal) in a temporary folder it owns."""

    def __init__(self, log_dir: Path) -> None:
        self.bin = self.binaries()
        self.log_dir = log_dir
        self.data = Path(tempfile.mkdtemp(prefix="finfleet-pg-"))
        self.port = free_port()
        self.url = f"postgresql://finfleet@127.0.0.1:{self.port}/postgres"
        self.proc: Proc | None = None
        shutil.chown(self.data, "postgres", "postgres")
        subprocess.run([*self.as_postgres(), str(self.bin / "initdb"), "-D", str(self.data / "db"),
                        "-U", "finfleet", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)

    @staticmethod
    def binaries() -> Path:
        found = procs.find_binary("postgres") or next(
            iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)), None)
        if found is None:
            require_binary("postgres", "apt-get install -y postgresql")
        return Path(found).parent

    @staticmethod
    def as_postgres() -> list[str]:
        if os.geteuid() != 0:
            return []
        return [require_binary("setpriv"), "--reuid=postgres", "--regid=postgres",
                "--init-groups", "--"]

    def start(self, timeout_s: float = 30.0) -> None:
        import psycopg

        argv = [*self.as_postgres(), str(self.bin / "postgres"), "-D", str(self.data / "db"),
                "-p", str(self.port), "-h", "127.0.0.1", "-k", str(self.data)]
        self.proc = start("postgres", argv, self.log_dir / "postgres.log", url=self.url)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=1).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline or not self.proc.alive():
                    raise AssertionError(f"postgres did not start: {self.proc.log.read_text()}"
                                         ) from exc
                time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown (SIGINT: clients are disconnected, not waited for)."""
        if self.proc is not None and self.proc.alive():
            self.proc.popen.send_signal(signal.SIGINT)
            try:
                self.proc.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.stop()
        self.proc = None

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=3) as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
