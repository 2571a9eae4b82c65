"""Adding a model is a folder and a row: a toy sixth service (`tests/toy_words/`), registered only
in a table of services, is trained, started and served through the gateway by the launcher."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from kit.catalog import load_catalog
from kit.procs import free_port
from tests.test_fleet_run import _launch, _wait_for

pytestmark = pytest.mark.integration


def toy_table(gateway_port: int, words_port: int) -> str:
    """The real table plus one row (TOML); real services keep their ports but are not used."""
    return f"""
[gateway]
port = {gateway_port}

[[service]]
name = "words"
port = {words_port}
module = "tests.toy_words"
answers = "how many words a text has, and how many are not stop words"
cache_ttl = 30
vary = "text"
example = {{ text = "the rent is due on the first" }}
"""


def test_a_toy_sixth_model_comes_up_through_the_launcher_and_the_gateway(tmp_path):
    gateway_port, words_port = free_port(), free_port()
    table = tmp_path / "services.toml"
    table.write_text(toy_table(gateway_port, words_port))
    catalog = load_catalog(table)
    assert catalog.names == ["words"] and catalog.service("words").module_name == "tests.toy_words"
    env = {"FINFLEET_SERVICES": str(table), "FLEET_MODEL_DIR": str(tmp_path / "models"),
           "GATEWAY_LOG_LEVEL": "WARNING"}
    proc, out = _launch(tmp_path, env, "--ready-timeout", "60")
    try:
        text = _wait_for(out, proc, "fleet ready", timeout=120)
        assert "training words" in text, "the launcher trains the new model's first artifact"
        state = json.loads((tmp_path / "logs" / "fleet.json").read_text())
        assert state["words"]["ready"] and state["words"]["port"] == words_port
        with httpx.Client(base_url=f"http://127.0.0.1:{gateway_port}", timeout=10) as client:
            models = client.get("/v1/models").json()["models"]
            assert [(m["name"], m["ready"]) for m in models] == [("words", True)]
            friendly = client.post("/v1/words", json={"text": "the bill is paid"})
            assert friendly.status_code == 200, friendly.text
            assert friendly.json()["prediction"] == {"words": 4, "content_words": 3}
            assert friendly.json()["model_version"] == state["words"]["version"]
            bad = client.post("/v1/words", json={"text": ""})
            assert bad.status_code == 422
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert bad.json()["errors"][0]["field"] == "instances[0].text"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, out.read_text()[-2000:]
