"""Real processes on 127.0.0.1 for the benches and the integration tests: free ports, start,
wait until ready, measure, stop.

Every process leads its own process group, so `stop()` also reaches what it forked (uvicorn and
MLServer workers, nginx workers) and nothing outlives the bench or test that started it. A
process that dies or never gets ready raises `ProcessError` quoting the tail of its log, which is
where the reason is. Model services and the gateway start as deployed (`python -m <module>`,
settings from `<NAME>_*` variables); the table of services names their modules.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from kit.catalog import load_catalog
from kit.settings import REPO_ROOT


class ProcessError(RuntimeError):
    """A started process exited, or did not get ready in time: the first line says which and
    where its log is, the lines after it are the log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_binary(name: str) -> str | None:
    """The tool's path: PATH, this interpreter's bin (venv tools), or sbin (redis, nginx)."""
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent)) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/local/sbin") / name)
         if p.is_file()), None)


@dataclass
class Proc:
    """A started process: its Popen (leader of its own process group), log file and URL."""

    name: str
    popen: subprocess.Popen
    log: Path
    url: str = ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM to the whole process group; after timeout_s, or once the leader has gone,
        SIGKILL to whatever of the group is left. Stopping twice is harmless."""
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=timeout_s)
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=5)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def pids(self) -> list[int]:
        """This process and all its descendants alive now."""
        pids, queue = [], [self.popen.pid]
        while queue:
            pid = queue.pop()
            pids.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    queue.extend(int(child) for child in task.read_text().split())
        return pids

    def rss_mb(self) -> float:
        """Resident memory of the process tree (Linux /proc)."""
        return round(sum(_rss_kb(pid) for pid in self.pids()) / 1024, 1)

    def cpu_s(self) -> float:
        """User + system CPU seconds the live process tree has used (Linux /proc)."""
        return sum(_cpu_ticks(pid) for pid in self.pids()) / os.sysconf("SC_CLK_TCK")


def start(name: str, argv: list[str], log: Path, *, env: dict[str, str] | None = None,
          cwd: Path = REPO_ROOT, url: str = "", nice: int = 0) -> Proc:
    """Start `argv` in its own process group, stdout and stderr to `log` (truncated); `nice`
    above 0 runs it at that lower CPU priority (a shadow candidate's replica)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if nice:
        argv = ["nice", "-n", str(nice), *argv]
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    if nice:
        lower_group_priority(popen.pid, nice)
    return Proc(name, popen, log, url)


def lower_group_priority(pid: int, nice: int) -> None:
    """With the kernel's autogroups (sched_autogroup_enabled), a process in its own session is
    scheduled as a group of its own and its nice value only counts inside that group: the
    group's nice is what yields to the other processes. Best effort (no /proc: nothing)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))


def wait_ready(proc: Proc, path: str = "/health/ready", timeout_s: float = 60.0) -> None:
    """Poll `path` until it answers 200. A process that exits, reports a failed model load or is
    not ready by the deadline is stopped, and ProcessError says why."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline and proc.alive():
        try:
            with urllib.request.urlopen(proc.url + path, timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.read()[:300].decode(errors='replace')}"
            if "failed" in last:
                break
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    _fail(proc, f"not ready after {timeout_s:.0f}s ({last})")


def wait_for_port(proc: Proc, port: int, timeout_s: float = 20.0) -> None:
    """Wait until something accepts TCP connections on `port` (servers that are not HTTP)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.alive():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    _fail(proc, f"not listening on {port} after {timeout_s:.0f}s")


def _fail(proc: Proc, why: str) -> NoReturn:
    if not proc.alive():
        why = f"exited with {proc.popen.returncode}"
    proc.stop()
    raise ProcessError(f"{proc.name} {why} (log: {proc.log})\n{proc.log_tail()}")


def start_python(name: str, module_argv: list[str], log_dir: Path, *, port: int,
                 env: dict[str, str] | None = None, wait: bool = True,
                 timeout_s: float = 60.0, nice: int = 0, python: str | None = None) -> Proc:
    """`python -m <module_argv>` from the repository root, serving on 127.0.0.1:`port`; waits
    for /health/ready unless `wait` is False (start several, then wait for each). `python` is
    another environment's interpreter (a model's own venv, as its image has it); this one's by
    default."""
    proc = start(name, [python or sys.executable, "-m", *module_argv], log_dir / f"{name}.log",
                 env=env, url=f"http://127.0.0.1:{port}", nice=nice)
    if wait:
        wait_ready(proc, timeout_s=timeout_s)
    return proc


def start_service(name: str, model_dir: Path, log_dir: Path, *, port: int | None = None,
                  env: dict[str, str] | None = None, wait: bool = True,
                  timeout_s: float = 60.0, python: str | None = None) -> Proc:
    """A model service of the table of services, serving the models under `model_dir`."""
    row = load_catalog().service(name)
    port = port or free_port()
    prefix = row.env_prefix
    settings = {f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port),
                f"{prefix}MODEL_DIR": str(model_dir), **(env or {})}
    return start_python(name, [row.module_name], log_dir, port=port, env=settings, wait=wait,
                        timeout_s=timeout_s, python=python)


def start_gateway(env: dict[str, str], log_dir: Path, *, port: int | None = None,
                  wait: bool = True, timeout_s: float = 60.0, python: str | None = None
                  ) -> Proc:
    """`python -m gateway` with `env` (GATEWAY_UPSTREAMS and the rest)."""
    port = port or free_port()
    settings = {"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port), **env}
    return start_python("gateway", ["gateway"], log_dir, port=port, env=settings, wait=wait,
                        timeout_s=timeout_s, python=python)


def train(name: str, model_dir: Path, *args: str, timeout_s: float = 600.0) -> None:
    """Train one model of the table into `model_dir` (its trainer, `--model-dir` and `args`);
    ProcessError quotes the end of the trainer's output when it fails."""
    argv = [sys.executable, "-m", load_catalog().service(name).trainer_module,
            "--model-dir", str(model_dir), *args]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise ProcessError(f"training {name} exited with {done.returncode}:\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")


def start_redis(log_dir: Path, binary: str | None = None, *args: str) -> Proc:
    """A throwaway redis-server (no persistence) on a free port, with any further server
    arguments (`--maxmemory 1mb`); `url` is its redis:// URL."""
    binary = binary or find_binary("redis-server")
    if not binary:
        raise ProcessError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    proc = start("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", str(log_dir), *args],
                 log_dir / "redis.log",
                 url=f"redis://127.0.0.1:{port}/0")
    wait_for_port(proc, port)
    return proc


def post_json(url: str, body: bytes, timeout_s: float = 30.0) -> tuple[int, bytes]:
    """One POST of a JSON body; returns (status, body) for 4xx/5xx too."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])
