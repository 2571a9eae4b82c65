"""The BentoML peer: `bench/peers/bentoml_service.py` (one `@bentoml.service`, one
`@bentoml.api(batchable=True)`) serving the credit booster from `bench/.venv-bentoml`, on
127.0.0.1 only. BentoML is never a project dependency; xgboost is pinned to the project's lock
so the booster is read by the same library version."""

from __future__ import annotations

from pathlib import Path

from bench import peer_venv
from kit.procs import Proc, free_port, start

NAME = "bentoml"
VENV = peer_venv.venv_path(NAME)
PACKAGES = ("bentoml==1.4.40", "xgboost-cpu==3.2.0")
SERVICE_DIR = Path(__file__).resolve().parent / "peers"
SERVICE = "bentoml_service:CreditBooster"
READY_PATH = "/readyz"
PREDICT_PATH = "/predict"


def start_argv(binary: Path, port: int) -> list[str]:
    return [str(binary), "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port),
            "--working-dir", str(SERVICE_DIR)]


def start_peer(artifact_dir: Path, work: Path, logs: Path) -> Proc:
    """Install on first use, then `bentoml serve` (not waited for: the caller waits on
    READY_PATH). Usage tracking is off: nothing leaves the machine."""
    booster = peer_venv.booster(artifact_dir)
    binary = peer_venv.ensure(VENV, PACKAGES, "bentoml")
    port = free_port()
    return start(NAME, start_argv(binary, port), logs / f"{NAME}.log", cwd=work,
                 url=f"http://127.0.0.1:{port}",
                 env={"BENCH_BOOSTER": str(booster), "BENTOML_DO_NOT_TRACK": "true",
                      "BENTOML_HOME": str(work / "bentoml-home")})


def version() -> str:
    return peer_venv.installed_version(VENV, "bentoml")
