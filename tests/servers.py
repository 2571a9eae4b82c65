"""Real servers for tests, in this process: an app under uvicorn on a free loopback port, and
the whole fleet of the table (every model service on its trained artifact, and the gateway)."""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from kit.catalog import load_catalog
from kit.procs import free_port
from kit.settings import REPO_ROOT, settings_class


class ServedInThread:
    """An app under uvicorn on a free loopback port, for as long as the `with` block."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.url} did not become ready")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def service_app(name: str, model_dir: Path, **settings):
    """The service's own app on `model_dir`, through its settings class (found by name);
    `settings` are more of its fields (its log folder, how often it computes live
    quality, serve_candidate=True for shadow and canary)."""
    row = load_catalog().service(name)
    app_module = importlib.import_module(f"{row.module_name}.app")
    fields = {"model_dir": model_dir, "log_level": "WARNING", **settings}
    return app_module.build_app(settings_class(name)(**fields))


@contextlib.contextmanager
def running_fleet(model_dir: Path = REPO_ROOT / "models") -> Iterator[dict[str, str]]:
    """Every service of the table, the trainer (its jobs beside `model_dir`) and a gateway in
    front: name → base URL ("trainer" and "gateway" too)."""
    from gateway.app import build_app as build_gateway
    from gateway.settings import GatewaySettings
    from trainer.app import build_app as build_trainer
    from trainer.settings import TrainerSettings

    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(ServedInThread(service_app(name, model_dir)))
                for name in load_catalog().names}
        trainer = build_trainer(TrainerSettings(model_dir=model_dir, log_level="WARNING",
                                                jobs_dir=model_dir.parent / "jobs",
                                                data_roots=[model_dir.parent / "data"]))
        trainer_url = stack.enter_context(ServedInThread(trainer))
        gateway = build_gateway(GatewaySettings(upstreams=dict(urls), log_level="WARNING",
                                                version_refresh_seconds=1,
                                                trainer_url=trainer_url))
        urls["trainer"] = trainer_url
        urls["gateway"] = stack.enter_context(ServedInThread(gateway))
        yield urls
