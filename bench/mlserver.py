"""The peer: MLServer serving the credit model's XGBoost booster, from an isolated venv.

MLServer is never a project dependency: the first run creates `bench/.venv-mlserver` and
installs `mlserver` and `mlserver-xgboost` there. The model folder lives under `bench/work/`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench import peer_venv

BENCH_DIR = Path(__file__).resolve().parent
VENV = BENCH_DIR / ".venv-mlserver"
# uvloop 0.22 dropped the implicit event loop MLServer 1.7's inference workers ask for at start-up
# (they die with "There is no current event loop"), so it is held below 0.22.
PACKAGES = ("mlserver", "mlserver-xgboost", "uvloop<0.22")
MODEL_NAME = "credit"
READY_PATH = f"/v2/models/{MODEL_NAME}/ready"


def mlserver_binary(venv: Path = VENV) -> Path:
    return venv / "bin" / "mlserver"


def ensure_venv(venv: Path = VENV) -> Path:
    """The `mlserver` executable, installing it into its own venv on first use (~1–3 minutes)."""
    return peer_venv.ensure(venv, PACKAGES, "mlserver")


def prepare_model(artifact_dir: Path, work: Path, *, http_port: int, grpc_port: int,
                  metrics_port: int) -> Path:
    """Write MLServer's settings and the model folder (the booster copied as `model.json`)."""
    booster = peer_venv.booster(artifact_dir)
    root = work / "mlserver"
    model_dir = root / MODEL_NAME
    if root.exists():
        shutil.rmtree(root)
    model_dir.mkdir(parents=True)
    shutil.copyfile(booster, model_dir / "model.json")
    settings = {"host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port,
                "metrics_port": metrics_port, "debug": False}
    model_settings = {"name": MODEL_NAME, "implementation": "mlserver_xgboost.XGBoostModel",
                      "parameters": {"uri": "./model.json", "version": artifact_dir.name}}
    (root / "settings.json").write_text(json.dumps(settings, indent=2))
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    return root


def start_argv(binary: Path, root: Path) -> list[str]:
    return [str(binary), "start", str(root)]


def installed_version(venv: Path = VENV) -> str:
    return peer_venv.installed_version(venv, "mlserver")
