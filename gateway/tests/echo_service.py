"""A real kit-based model service that echoes its instances, for fleet tests that need an upstream
other than credit (e.g. `intent` in a fan-out): `python -m gateway.tests.echo_service NAME`.
Env: ECHO_PORT, ECHO_MODEL_DIR (a version is written there on start when none exists)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic_settings import SettingsConfigDict

from kit import ArtifactStore, ServedModel, ServiceSettings, create_app
from kit.serve import serve


class EchoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ECHO_", extra="ignore", protected_namespaces=())


def echo_model(name: str) -> type[ServedModel]:
    class Echo(ServedModel):
        offload = False

        def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
            return [{"echo": instance} for instance in instances]

    Echo.name = name
    return Echo


def ensure_artifact(model_dir: Path, name: str) -> None:
    store = ArtifactStore(model_dir, name)
    if not store.versions():
        staging = Path(tempfile.mkdtemp())
        (staging / "echo.txt").write_text("echo\n")
        store.save(staging, {"parameters": {}, "metrics": {}})


def main() -> None:
    name = sys.argv[1]
    settings = EchoSettings()
    ensure_artifact(settings.model_dir, name)
    serve(create_app(echo_model(name), settings), settings)


if __name__ == "__main__":
    main()
