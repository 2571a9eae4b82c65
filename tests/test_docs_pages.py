"""`/docs` in a real browser (Debian's headless Chromium): Swagger UI loads from the kit's own
files (no CDN) and shows the hot predict routes, which FastAPI's router does not dispatch."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from gateway.app import build_app as build_gateway
from gateway.settings import GatewaySettings
from tests.procs import free_port, require_binary
from tests.toy_words.app import build_app as build_words
from tests.toy_words.schema import WordsSettings
from tests.toy_words.train import main as train_words

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


class ServedInThread:
    """A real uvicorn server for an app, on a free loopback port, for as long as the block."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        url = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("the server did not become ready")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def rendered_dom(url: str, profile: Path) -> str:
    chromium = require_binary("chromium", hint="apt-get install -y chromium")
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
         "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_model_services_docs_page_shows_its_predict_route(tmp_path):
    train_words(["--model-dir", str(tmp_path / "models")])
    app = build_words(WordsSettings(model_dir=tmp_path / "models", port=0, log_level="WARNING"))
    with ServedInThread(app) as url:
        dom = rendered_dom(f"{url}/docs", tmp_path / "profile")
    assert "swagger-ui" in dom and "opblock" in dom, "Swagger UI rendered the operations"
    assert "/v1/models/words:predict" in dom and "Predict with words (V1 protocol)" in dom
    assert "/health/ready" in dom and "/v1/models/words" in dom


def test_the_gateways_docs_page_shows_each_models_routes(tmp_path):
    settings = GatewaySettings(log_level="WARNING", version_refresh_seconds=3600)
    with ServedInThread(build_gateway(settings)) as url:
        dom = rendered_dom(f"{url}/docs", tmp_path / "profile")
    for name in settings.upstreams:
        assert f"/v1/{name}" in dom and f"/v1/models/{name}:predict" in dom
    assert "/v1/analyze/message" in dom
