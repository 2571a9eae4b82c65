"""Start, watch and stop the fleet's processes.

Hand-written rather than honcho: honcho stops every process when one exits, and here a crashed
model must be reported while the others keep serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from fleet.plan import FleetPlan, Process
from kit.procs import lower_group_priority

QUIET_MESSAGES = {"request"}  # per-request log lines go to the log file only


@dataclass
class Running:
    spec: Process
    proc: asyncio.subprocess.Process
    log_path: Path
    ready: bool = False
    detail: str = "starting"
    version: str = "—"


class Supervisor:
    """Owns the child processes: their logs, readiness, crashes and graceful shutdown."""

    def __init__(self, plan: FleetPlan, log_dir: Path, console: Console | None = None,
                 ready_timeout: float = 300.0, stop_timeout: float = 15.0) -> None:
        self.plan = plan
        self.log_dir = log_dir
        self.console = console or Console()
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.running: dict[str, Running] = {}
        self.stopping = False
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.plan.processes:
            log_path = self.log_dir / f"{spec.name}.log"
            proc = await asyncio.create_subprocess_exec(
                *spec.command, env={**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
            )
            if spec.nice:  # its own session is its own scheduling group: lower the group too
                lower_group_priority(proc.pid, spec.nice)
            run = Running(spec, proc, log_path)
            self.running[spec.name] = run
            self._tasks.append(asyncio.create_task(self._pump(run)))
            self._tasks.append(asyncio.create_task(self._watch(run)))
            self.console.print(f"[dim]started {spec.name} (pid {proc.pid}) on {spec.url}[/dim]")
        self._write_state()

    async def _pump(self, run: Running) -> None:
        """Child output → its log file in full, and a short line on the terminal."""
        with run.log_path.open("ab") as log:
            assert run.proc.stdout is not None
            async for raw in run.proc.stdout:
                log.write(raw)
                log.flush()
                line = short_view(raw)
                if line:
                    self.console.print(f"[cyan]{run.spec.name:>8}[/cyan] | {line}",
                                       markup=True, highlight=False)

    async def _watch(self, run: Running) -> None:
        code = await run.proc.wait()
        run.ready = False
        if not self.stopping:
            run.detail = f"exited with code {code}"
            self.console.print(
                f"[bold red]✗ {run.spec.name} exited with code {code}[/bold red] — see "
                f"{run.log_path}; the other services keep running")
            self._write_state()

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            pending = set(self.running)
            while pending and time.monotonic() < deadline and not self.stopping:
                for name in list(pending):
                    run = self.running[name]
                    if run.proc.returncode is not None:
                        pending.discard(name)
                        continue
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        response = await client.get(f"{run.spec.url}/health/ready")
                        body = response.json()
                        run.detail = body.get("reason") or body.get("status", "")
                        run.version = body.get("version") or run.version
                        if response.status_code == 200:
                            run.ready = True
                            pending.discard(name)
                if pending:
                    await asyncio.sleep(0.25)
        self._write_state()

    def table(self) -> Table:
        table = Table(title="finfleet")
        for column in ("service", "URL", "model version", "ready"):
            table.add_column(column)
        for run in self.running.values():
            state = "[green]yes[/green]" if run.ready else f"[red]no[/red] ({run.detail})"
            table.add_row(run.spec.name, run.spec.url, run.version, state)
        for name in self.plan.missing:
            table.add_row(name, "—", "—", "[yellow]not started[/yellow] (code not there yet)")
        return table

    async def stop(self) -> None:
        """SIGTERM to every child, SIGKILL to any still alive after `stop_timeout`."""
        self.stopping = True
        alive = [r for r in self.running.values() if r.proc.returncode is None]
        for run in alive:
            with contextlib.suppress(ProcessLookupError):
                run.proc.send_signal(signal.SIGTERM)
        for run in alive:
            try:
                await asyncio.wait_for(run.proc.wait(), self.stop_timeout)
            except TimeoutError:
                self.console.print(f"[red]{run.spec.name} ignored SIGTERM; killing it[/red]")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.proc.pid, signal.SIGKILL)
                await run.proc.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._write_state()

    def _write_state(self) -> None:
        """`logs/fleet.json`: pids, ports and readiness, for scripts and tests."""
        state = {name: {"pid": r.proc.pid, "url": r.spec.url, "port": r.spec.port,
                        "ready": r.ready, "version": r.version,
                        "returncode": r.proc.returncode}
                 for name, r in self.running.items()}
        (self.log_dir / "fleet.json").write_text(json.dumps(state, indent=2))


def short_view(raw: bytes) -> str | None:
    """One JSON log line → `level message (details)`; other text passes through, trimmed."""
    text = raw.decode(errors="replace").rstrip()
    if not text:
        return None
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text[:160]
    if not isinstance(record, dict):
        return text[:160]
    if record.get("msg") in QUIET_MESSAGES and record.get("level") == "info":
        return None
    details = ", ".join(f"{k}={v}" for k, v in record.items()
                        if k not in {"ts", "level", "logger", "msg", "exc"})
    line = f"{record.get('level', '')} {record.get('msg', '')}"
    return (f"{line} ({details})" if details else line)[:200]
