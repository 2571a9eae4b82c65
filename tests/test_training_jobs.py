"""Training jobs end to end, all real processes: a CSV uploaded through the gateway's
`/admin/jobs` (admin key on) trains a credit candidate in the trainer service; promoted
through the gateway, the running credit service answers with it — no restart. A trainer that is
down is a 503 in the common error format."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from gateway.auth import hash_key
from kit.procs import start_python, start_service
from services.credit.data import generate_applications

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration

ADMIN_KEY = "jobs-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
POLL_SECONDS = 0.5


OWN_INTENTS = procs.REPO_ROOT / "services" / "intent" / "tests" / "data" / "own_intents.csv"
OWN_SENTENCES = procs.REPO_ROOT / "services" / "ner" / "tests" / "data" / "own_sentences.jsonl"


@pytest.fixture
def fleet(tmp_path, tmp_path_factory):
    model_dir = tmp_path / "models"
    shutil.copytree(procs.trained_credit_dir(tmp_path_factory), model_dir)
    yield from started_fleet(tmp_path, model_dir, "credit")


def shipped_fleet(tmp_path, model: str):
    shipped = procs.REPO_ROOT / "models" / model
    if not shipped.is_dir():
        pytest.skip(f"no shipped {model} model: run `make models`")
    model_dir = tmp_path / "models"
    shutil.copytree(shipped, model_dir / model)
    yield from started_fleet(tmp_path, model_dir, model)


@pytest.fixture
def intent_fleet(tmp_path):
    yield from shipped_fleet(tmp_path, "intent")


@pytest.fixture
def ner_fleet(tmp_path):
    yield from shipped_fleet(tmp_path, "ner")


def started_fleet(tmp_path, model_dir, model: str):
    """`model`'s service, a trainer on the same store and a gateway with an admin key."""
    started: dict[str, procs.Proc] = {}
    try:
        started[model] = start_service(
            model, model_dir, tmp_path, env={f"{model.upper()}_LOG_LEVEL": "WARNING",
                                             f"{model.upper()}_REGISTRY_POLL_SECONDS": "0.5"})
        port = procs.free_port()
        started["trainer"] = start_python(
            "trainer", ["trainer"], tmp_path, port=port,
            env={"TRAINER_PORT": str(port), "TRAINER_MODEL_DIR": str(model_dir),
                 "TRAINER_JOBS_DIR": str(tmp_path / "jobs"), "TRAINER_LOG_LEVEL": "WARNING"})
        started["gateway"] = procs.start_gateway({
            "GATEWAY_UPSTREAMS": json.dumps(procs.upstreams_with(**{model: started[model].url})),
            "GATEWAY_TRAINER_URL": started["trainer"].url,
            "GATEWAY_ADMIN_KEY_SHA256": json.dumps([hash_key(ADMIN_KEY)]),
            "GATEWAY_VERSION_REFRESH_SECONDS": str(POLL_SECONDS)}, tmp_path)
        yield started
    finally:
        for proc in reversed(list(started.values())):
            proc.stop()


def wait_for_job(client: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = client.get(f"/admin/jobs/{job_id}", headers=ADMIN).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def promote_and_wait(client: httpx.Client, model: str, version: str, ask) -> None:
    """Force-promote (the gate judges a candidate with other labels as it likes: this test is
    about the plumbing), then wait until the running service answers with `version`."""
    promoted = client.post(f"/admin/models/{model}/promote", headers=ADMIN,
                           json={"force": True, "reason": "the training-jobs test"})
    assert promoted.status_code == 200, promoted.text
    deadline = time.monotonic() + 30
    while ask()["model_version"] != version:
        assert time.monotonic() < deadline, f"{model} still serves the old version"
        time.sleep(POLL_SECONDS)


def asker(client: httpx.Client, model: str, default_text: str):
    """A text model's answer through the gateway, never from its cache."""
    def ask(text: str = default_text) -> dict:
        answer = client.post(f"/v1/{model}", json={"text": text},
                             headers={"Cache-Control": "no-cache"})
        assert answer.status_code == 200, answer.text
        return answer.json()
    return ask


def quick_job_on(client: httpx.Client, model: str, data: Path, media_type: str) -> dict:
    """A quick training job on an uploaded file, through the gateway, once it has succeeded."""
    started = client.post("/admin/jobs", headers=ADMIN,
                          data={"model": model, "parameters": '{"quick": true}'},
                          files={"data": (data.name, data.read_bytes(), media_type)})
    assert started.status_code == 202, started.text
    job = wait_for_job(client, started.json()["id"])
    assert job["state"] == "succeeded", job
    return job


def test_an_uploaded_intent_csv_with_new_labels_is_answered_without_a_restart(intent_fleet):
    with httpx.Client(base_url=intent_fleet["gateway"].url, timeout=60) as client:
        ask = asker(client, "intent", "please freeze my card, I lost it")
        assert ask()["prediction"]["label"] != "freeze_card"  # the shipped labels
        job = quick_job_on(client, "intent", OWN_INTENTS, "text/csv")
        promote_and_wait(client, "intent", job["version"], ask)
        assert ask()["prediction"]["label"] == "freeze_card"
        assert ask("charged twice for my amazon order")["prediction"]["label"] == (
            "dispute_charge")
        listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert listed["intent"]["version"] == job["version"]


def test_uploaded_sentences_with_a_new_label_are_found_without_a_restart(ner_fleet):
    with httpx.Client(base_url=ner_fleet["gateway"].url, timeout=60) as client:
        ask = asker(client, "ner", "please send ₹700 to ankit77@oksbi")
        assert "UPI_ID" not in {e["label"] for e in ask()["prediction"]["entities"]}
        job = quick_job_on(client, "ner", OWN_SENTENCES, "application/x-ndjson")
        assert job["metrics"]["own_holdout"]["exact"]["micro"]["f1"] > 0.5
        promote_and_wait(client, "ner", job["version"], ask)
        found = {e["label"]: e for e in ask()["prediction"]["entities"]}
        assert found["UPI_ID"]["text"] == "ankit77@oksbi"
        assert found["UPI_ID"]["value"] is None  # the normaliser is MONEY's and DATE's
        assert found["MONEY"]["value"] == {"amount": 700.0, "currency": "INR"}


def test_an_uploaded_csv_becomes_the_served_version_without_a_restart(fleet, tmp_path):
    gateway = fleet["gateway"].url
    dataset = generate_applications(800, seed=11)
    frame = dataset.frame.copy()
    frame["defaulted"] = dataset.target
    csv = frame.to_csv(index=False).encode()
    with httpx.Client(base_url=gateway, timeout=60) as client:
        before = client.post("/v1/credit", json=procs.APPLICANT).json()["model_version"]
        refused = client.post("/admin/jobs", json={"model": "credit"})
        assert refused.status_code == 401, refused.text
        started = client.post(
            "/admin/jobs", headers=ADMIN,
            data={"model": "credit", "parameters": '{"quick": true, "target": "defaulted"}'},
            files={"data": ("loans.csv", csv, "text/csv")})
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline:
            job = client.get(f"/admin/jobs/{job_id}", headers=ADMIN).json()
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        assert job["state"] == "succeeded", job
        assert job["data"]["bytes"] == len(csv) and job["version"] != before
        assert [j["id"] for j in client.get("/admin/jobs", headers=ADMIN).json()["jobs"]] == [
            job_id]
        registry = client.get("/admin/models/credit", headers=ADMIN).json()
        assert registry["aliases"]["candidate"] == job["version"]
        promoted = client.post("/admin/models/credit/promote", headers=ADMIN,
                               json={"force": True, "reason": "the training-jobs test"})
        assert promoted.status_code == 200, promoted.text
        deadline = time.monotonic() + 20
        served = before
        while served != job["version"] and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            served = client.post("/v1/credit", json={**procs.APPLICANT, "age": 44},
                                 headers={"Cache-Control": "no-cache"}).json()["model_version"]
        assert served == job["version"]


def test_a_trainer_that_is_down_is_a_503_problem(fleet):
    fleet["trainer"].stop()
    answer = httpx.get(f"{fleet['gateway'].url}/admin/jobs", headers=ADMIN, timeout=30)
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "trainer" in answer.json()["detail"]
    health = httpx.post(f"{fleet['gateway'].url}/v1/credit", json=procs.APPLICANT, timeout=30)
    assert health.status_code == 200  # the models keep answering
