"""Retraining from what was served, end to end at a small scale: a real credit service logging
to SQLite files in a temporary folder, real predictions over HTTP, real outcomes through
`POST /v1/models/credit/outcomes`, then `python -m kit.retrain credit` (what `finfleet retrain`
runs): the drift check, a `candidate` trained on the log (plus the generated set) with the
model's own trainer, and the gate's verdict, with production left where it was. The same for
intent with a few corrected labels (its texts logged: INTENT_LOG_INPUTS=true), on the shipped
model (about three minutes on two cores: the trainer exports MiniLM)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kit import retrain
from services.credit.data import generate_applications
from tests.procs import REPO_ROOT, PostgresServer, procs, trained_credit_dir

pytestmark = pytest.mark.integration


def aliases(model_dir: Path, name: str = "credit") -> dict[str, str]:
    return json.loads((model_dir / name / "aliases.json").read_text())["aliases"]


def run_retrain(*args: str, name: str = "credit", timeout_s: float = 900
                ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit.retrain", name, *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout_s)


def attach_all(url: str, ids: list[str], labels: list, name: str = "credit",
               timeout_s: float = 20) -> None:
    """Outcomes for every id; an id the writer has not flushed yet is `unknown`: sent again."""
    pending = dict(zip(ids, labels, strict=True))
    deadline = time.monotonic() + timeout_s
    while pending:
        body = {"outcomes": [{"prediction_id": i, "label": y} for i, y in pending.items()]}
        answer = httpx.post(f"{url}/v1/models/{name}/outcomes", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        for result in answer.json()["results"]:
            if result["status"] == "stored":
                pending.pop(result["prediction_id"])
        if pending and time.monotonic() > deadline:
            raise AssertionError(f"{len(pending)} outcomes never found their prediction")
        time.sleep(0.3)


def serve_and_label(model_dir: Path, tmp_path: Path, log: dict[str, str]) -> None:
    """The credit service over `model_dir` with the log `log` (env), 120 applications scored
    over HTTP and their outcomes attached; then the service stops."""
    proc = procs.start_service("credit", model_dir, tmp_path, env={
        **log, "CREDIT_LOG_FLUSH_SECONDS": "0.2", "CREDIT_QUALITY_SECONDS": "0",
        "CREDIT_LOG_LEVEL": "WARNING"})
    try:
        traffic = generate_applications(n=120, seed=31)
        apps = traffic.frame.to_dict("records")
        ids = []
        for start in range(0, len(apps), 40):
            answer = httpx.post(f"{proc.url}/v1/models/credit:predict", timeout=10,
                                json={"instances": apps[start:start + 40]})
            assert answer.status_code == 200, answer.text
            ids += answer.json()["prediction_ids"]
        attach_all(proc.url, ids, [bool(y) for y in traffic.target])
    finally:
        proc.stop()


@pytest.fixture
def served(tmp_path, tmp_path_factory):
    """A copy of the session's quick credit model, its log in tmp_path/log (SQLite), after
    120 applications were scored and their outcomes attached."""
    model_dir = tmp_path / "models"
    shutil.copytree(trained_credit_dir(tmp_path_factory), model_dir)
    log_dir = tmp_path / "log"
    serve_and_label(model_dir, tmp_path, {"CREDIT_LOG_DIR": str(log_dir)})
    return model_dir, log_dir


def test_a_retrain_on_logged_outcomes_registers_a_candidate_the_gate_judges(served) -> None:
    model_dir, log_dir = served
    where = ["--model-dir", str(model_dir), "--log-dir", str(log_dir)]
    before = aliases(model_dir)

    few = run_retrain(*where, "--min-labelled", "1000")
    assert few.returncode == retrain.TOO_FEW_LABELLED, few.stderr
    assert "too few labelled records: 120" in few.stderr

    # Traffic drawn like the training data, and fewer new labels than the default 200: no need.
    quiet = run_retrain(*where, "--min-labelled", "50")
    assert quiet.returncode == retrain.NOT_NEEDED, quiet.stdout + quiet.stderr
    assert "drift score" in quiet.stdout and "120 new labels < 200" in quiet.stdout
    assert aliases(model_dir) == before, "nothing trained"

    done = run_retrain(*where, "--min-labelled", "50", "--new-labels", "100", "--quick",
                       "--no-progress")
    out = done.stdout
    assert done.returncode == retrain.OK, out + done.stderr
    assert "retraining: 120 new labels ≥ 100" in out
    after = aliases(model_dir)
    assert after["production"] == before["production"], "no --promote: production stays"
    assert after["candidate"] not in (before.get("candidate"), before["production"])
    manifest = json.loads((model_dir / "credit" / after["candidate"] / "manifest.json")
                          .read_text())
    assert manifest["data"].startswith("credit-log-") and manifest["metrics"]["n_train"] == (
        round((20_000 + 120) * 0.8))
    assert f"credit: candidate {after['candidate']} vs production {before['production']}" in out
    assert "the gate would pass" in out or "the gate would refuse" in out


def test_the_shared_postgresql_log_is_read_and_an_unreachable_one_is_its_own_exit(
        tmp_path, tmp_path_factory) -> None:
    """What the CronJob reads (`<NAME>_LOG_URL`): the same checks against a real PostgreSQL,
    short of training (the SQLite test above trains)."""
    model_dir = tmp_path / "models"
    shutil.copytree(trained_credit_dir(tmp_path_factory), model_dir)
    pg = PostgresServer(tmp_path)
    try:
        pg.start()
        serve_and_label(model_dir, tmp_path, {"CREDIT_LOG_URL": pg.url})
        where = ["--model-dir", str(model_dir), "--log-url", pg.url]
        few = run_retrain(*where, "--min-labelled", "1000")
        assert few.returncode == retrain.TOO_FEW_LABELLED, few.stdout + few.stderr
        assert "120 served records, 120 with an outcome" in few.stdout
        quiet = run_retrain(*where, "--min-labelled", "50", "--drift-threshold", "0.99")
        assert quiet.returncode == retrain.NOT_NEEDED, quiet.stdout + quiet.stderr
        assert "drift score" in quiet.stdout and "nothing to retrain" in quiet.stdout
        pg.stop()
        down = run_retrain(*where)
        assert down.returncode == retrain.LOG_UNREACHABLE, down.stdout + down.stderr
        assert "the prediction log is unreachable" in down.stderr
    finally:
        pg.close()


# Queries with the intent they really were (what a support agent's correction would say).
CORRECTIONS = {
    "is my card blocked after three wrong pins": "account_management",
    "how much did zomato take from me in june": "spending_summary",
    "what will I spend next quarter": "spending_forecast",
    "someone used my card in another city": "fraud_report",
    "hello there": "greeting",
    "tell me a joke about cats": "out_of_scope",
}


def test_corrected_intents_in_the_log_retrain_intent_and_the_gate_judges_it(tmp_path) -> None:
    shipped = REPO_ROOT / "models" / "intent"
    if not shipped.is_dir():
        pytest.skip("no shipped intent model: run `make models`")
    model_dir, log_dir = tmp_path / "models", tmp_path / "log"
    shutil.copytree(shipped, model_dir / "intent")
    proc = procs.start_service("intent", model_dir, tmp_path, timeout_s=120, env={
        "INTENT_LOG_DIR": str(log_dir), "INTENT_LOG_INPUTS": "true",
        "INTENT_LOG_FLUSH_SECONDS": "0.2", "INTENT_QUALITY_SECONDS": "0",
        "INTENT_LOG_LEVEL": "WARNING"})
    try:
        answer = httpx.post(f"{proc.url}/v1/models/intent:predict", timeout=60, json={
            "instances": [{"text": t} for t in CORRECTIONS]})
        assert answer.status_code == 200, answer.text
        attach_all(proc.url, answer.json()["prediction_ids"], list(CORRECTIONS.values()),
                   name="intent")
    finally:
        proc.stop()
    before = aliases(model_dir, "intent")
    where = ["--model-dir", str(model_dir), "--log-dir", str(log_dir)]
    done = run_retrain(*where, "--min-labelled", "5", "--new-labels", "5", "--quick",
                       "--no-progress", name="intent")
    out = done.stdout
    assert done.returncode == retrain.OK, out + done.stderr
    assert "6 served records, 6 with an outcome" in out
    assert "retraining: 6 new labels ≥ 5" in out and "with the shipped queries" in out
    after = aliases(model_dir, "intent")
    assert after["production"] == before["production"]
    assert after["candidate"] != before.get("candidate")
    manifest = json.loads((model_dir / "intent" / after["candidate"] / "manifest.json")
                          .read_text())
    assert manifest["data"].startswith("intent-log-")
    assert f"intent: candidate {after['candidate']} vs production {before['production']}" in out
    assert "the gate would pass" in out or "the gate would refuse" in out
