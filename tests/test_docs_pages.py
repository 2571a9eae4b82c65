"""`/docs` in a real browser (Debian's headless Chromium): Swagger UI loads from the kit's own
files (no CDN) and shows the hot predict routes, which FastAPI's router does not dispatch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.app import build_app as build_gateway
from gateway.settings import GatewaySettings
from tests.procs import require_binary
from tests.servers import ServedInThread
from tests.toy_words.app import build_app as build_words
from tests.toy_words.settings import WordsSettings
from tests.toy_words.train import main as train_words

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


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
