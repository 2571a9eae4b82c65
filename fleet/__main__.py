"""`python -m fleet run` brings the fleet up; `python -m fleet demo` shows it answering."""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from fleet.plan import REPO_ROOT, build_plan, busy_ports, has_model
from fleet.supervisor import Supervisor


def train_missing(plan, console: Console) -> list[str]:
    """Train every model that has no artifact yet, its progress shown on the terminal; returns
    the services whose training failed."""
    failed = []
    for proc in plan.processes:
        if proc.trainer and has_model(proc):
            console.print(f"models: {proc.name} ready")
        elif proc.trainer:
            model_dir = proc.env[f"{proc.name.upper()}_MODEL_DIR"]
            console.print(f"[bold]training {proc.name}[/bold] (first run only) → {model_dir}")
            result = subprocess.run([sys.executable, "-m", proc.trainer, "--model-dir", model_dir],
                                    cwd=REPO_ROOT, check=False)
            if result.returncode != 0:
                failed.append(proc.name)
                console.print(f"[red]training {proc.name} failed (exit {result.returncode})[/red]")
    return failed


async def run_fleet(args) -> int:
    console = Console()
    plan = build_plan()
    taken = busy_ports(plan.processes)
    if taken:
        for proc in taken:
            console.print(f"[bold red]port {proc.port} ({proc.name}) is already in use[/bold red]"
                          f" — stop what holds it or set {proc.name.upper()}_PORT")
        return 1
    if not args.no_train:
        await asyncio.to_thread(train_missing, plan, console)
    supervisor = Supervisor(plan, Path(args.log_dir), console, ready_timeout=args.ready_timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await supervisor.start()
    waiter = asyncio.create_task(supervisor.wait_ready())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():
        console.print(supervisor.table())
        console.print("[bold green]fleet ready[/bold green] — logs in "
                      f"{args.log_dir}/, Ctrl-C stops everything")
        await stopper
    waiter.cancel()
    console.print("stopping the fleet…")
    await supervisor.stop()
    console.print("[bold]fleet stopped[/bold]")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train missing models, start every service and the gateway")
    run.add_argument("--log-dir", default=str(REPO_ROOT / "logs"))
    run.add_argument("--ready-timeout", type=float, default=300.0)
    run.add_argument("--no-train", action="store_true", help="start even where a model is missing")
    sub.add_parser("models", help="train every model that has no artifact yet")
    demo = sub.add_parser("demo", help="send one realistic request per model and fan-out route")
    demo.add_argument("--url", default=None, help="gateway URL (default http://127.0.0.1:8000)")
    demo.add_argument("--raw", action="store_true", help="print whole JSON answers")
    args = parser.parse_args(argv)
    if args.command == "run":
        return asyncio.run(run_fleet(args))
    if args.command == "models":
        return 1 if train_missing(build_plan(), Console()) else 0
    from fleet.demo import run_demo

    return run_demo(args.url, args.raw)


if __name__ == "__main__":
    raise SystemExit(main())
