"""Retraining from what was served, end to end at a small scale: a real credit service logging
to SQLite files in a temporary folder, real predictions over HTTP, real outcomes through
`POST /v1/models/credit/outcomes`, then `python -m kit.retrain credit` (what `finfleet retrain`
runs): the drift check, a `candidate` trained on the log (plus the generated set) with the
model's own trainer, and the gate's verdict, with production left where it was."""

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
from tests.procs import REPO_ROOT, procs, trained_credit_dir

pytestmark = pytest.mark.integration


def aliases(model_dir: Path) -> dict[str, str]:
    return json.loads((model_dir / "credit" / "aliases.json").read_text())["aliases"]


def run_retrain(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit.retrain", "credit", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout_s)


def attach_all(url: str, ids: list[str], labels: list[bool], timeout_s: float = 20) -> None:
    """Outcomes for every id; an id the writer has not flushed yet is `unknown`: sent again."""
    pending = dict(zip(ids, labels, strict=True))
    deadline = time.monotonic() + timeout_s
    while pending:
        body = {"outcomes": [{"prediction_id": i, "label": y} for i, y in pending.items()]}
        answer = httpx.post(f"{url}/v1/models/credit/outcomes", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        for result in answer.json()["results"]:
            if result["status"] == "stored":
                pending.pop(result["prediction_id"])
        if pending and time.monotonic() > deadline:
            raise AssertionError(f"{len(pending)} outcomes never found their prediction")
        time.sleep(0.3)


@pytest.fixture
def served(tmp_path, tmp_path_factory):
    """A copy of the session's quick credit model, served with the log in tmp_path/log, after
    120 applications were scored and their outcomes attached."""
    model_dir = tmp_path / "models"
    shutil.copytree(trained_credit_dir(tmp_path_factory), model_dir)
    log_dir = tmp_path / "log"
    proc = procs.start_service("credit", model_dir, tmp_path, env={
        "CREDIT_LOG_DIR": str(log_dir), "CREDIT_LOG_FLUSH_SECONDS": "0.2",
        "CREDIT_QUALITY_SECONDS": "0", "CREDIT_LOG_LEVEL": "WARNING"})
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
        yield model_dir, log_dir
    finally:
        proc.stop()


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
