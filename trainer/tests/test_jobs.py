"""The training-jobs API on the real trainer (each job a real `python -m services.credit.train`
process): a job trains a registered candidate, uploads and paths, progress and log, bounded
concurrency, cancel (process gone, nothing half-written), a restart, and every mistake a 422."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kit.registry import FileRegistry
from services.credit.data import generate_applications
from trainer.app import build_app
from trainer.jobs import Job, JobStore
from trainer.settings import TrainerSettings

JOB_TIMEOUT_S = 420  # a quick credit job is ~15 s alone; the suite shares 2 cores


def settings_for(tmp_path: Path, **overrides) -> TrainerSettings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return TrainerSettings(model_dir=tmp_path / "models", jobs_dir=tmp_path / "jobs",
                           data_roots=[data], log_level="WARNING", **overrides)


def wait_for(client: TestClient, job_id: str, states: set[str], timeout: float = JOB_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s: {job}")


def credit_csv(path: Path, rows: int = 600) -> Path:
    dataset = generate_applications(rows, seed=3)
    frame = dataset.frame.copy()
    frame["defaulted"] = dataset.target
    frame.to_csv(path, index=False)
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()


def test_a_job_trains_a_candidate_with_progress_and_its_log(tmp_path):
    settings = settings_for(tmp_path)
    with TestClient(build_app(settings)) as client:
        started = client.post("/v1/jobs", json={"model": "credit",
                                                "parameters": {"quick": True, "seed": 5}})
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        assert started.json()["state"] in ("queued", "running")
        done = wait_for(client, job_id, {"succeeded", "failed"})
        assert done["state"] == "succeeded", done
        assert done["progress"]["percent"] == 100.0 and done["progress"]["steps_done"] >= 2
        assert done["metrics"]["holdout"]["auc"] > 0.6
        assert any("saved" in line for line in done["log_tail"])
        assert (settings.model_dir / "credit" / done["version"] / "manifest.json").is_file()
        registry = FileRegistry(settings.model_dir, "credit")
        assert registry.aliases().aliases["candidate"] == done["version"]
        listed = client.get("/v1/jobs").json()["jobs"]
        assert [j["id"] for j in listed] == [job_id] and listed[0]["version"] == done["version"]
        metrics = client.get("/metrics").text
        assert 'finfleet_training_jobs{state="succeeded"} 1.0' in metrics


def test_uploaded_and_named_csvs_train_and_jobs_wait_their_turn(tmp_path):
    settings = settings_for(tmp_path)
    csv = credit_csv(tmp_path / "data" / "loans.csv")
    with TestClient(build_app(settings)) as client:
        uploaded = client.post("/v1/jobs", data={"model": "credit", "parameters":
                                                 '{"quick": true, "target": "defaulted"}'},
                               files={"data": ("loans.csv", csv.read_bytes(), "text/csv")})
        assert uploaded.status_code == 202, uploaded.text
        named = client.post("/v1/jobs", json={"model": "credit", "data_path": str(csv),
                                              "parameters": {"quick": True,
                                                             "target": "defaulted"}})
        assert named.status_code == 202
        first, second = uploaded.json()["id"], named.json()["id"]
        running = wait_for(client, first, {"running", "succeeded", "failed"})
        if running["state"] == "running":  # one job at a time: the second waits
            assert client.get(f"/v1/jobs/{second}").json()["state"] == "queued"
        one = wait_for(client, first, {"succeeded", "failed"})
        two = wait_for(client, second, {"succeeded", "failed"})
    assert one["state"] == two["state"] == "succeeded", (one, two)
    assert one["data"]["kind"] == "upload" and one["data"]["bytes"] == csv.stat().st_size
    assert Path(one["data"]["path"]).read_bytes() == csv.read_bytes()
    assert Path(one["data"]["path"]).name == "loans.csv"  # the manifest names the user's file
    assert two["data"] == {"kind": "path", "path": str(csv.resolve())}
    assert one["started_at"] < one["finished_at"] <= two["started_at"]
    # A later job of the same model and parameters is estimated from the earlier one.
    assert two["progress"]["percent"] == 100.0


def test_cancel_stops_the_process_and_leaves_no_partial_version(tmp_path):
    settings = settings_for(tmp_path)
    with TestClient(build_app(settings)) as client:
        job_id = client.post("/v1/jobs", json={"model": "credit"}).json()["id"]  # a full run
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:  # cancel once it has started working
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["progress"]["steps_done"] >= 1:
                break
            time.sleep(0.2)
        pid = JobStore(settings.jobs_dir).get(job_id).pid
        assert pid and alive(pid)
        asked = time.monotonic()
        cancelled = client.delete(f"/v1/jobs/{job_id}")
        took = time.monotonic() - asked
        assert cancelled.status_code == 200
        assert cancelled.json()["state"] == "cancelled", cancelled.json()
        assert not alive(pid)
        assert took < settings.cancel_grace_seconds + 10
        store = settings.model_dir / "credit"
        leftovers = [p.name for p in store.iterdir()] if store.exists() else []
        assert [name for name in leftovers if "staging" in name] == []
        assert not [name for name in leftovers if name[:1].isdigit()], leftovers
        again = client.delete(f"/v1/jobs/{job_id}")  # cancelling a finished job changes nothing
        assert again.json()["state"] == "cancelled"


def test_a_queued_job_is_cancelled_before_it_starts(tmp_path):
    settings = settings_for(tmp_path)
    with TestClient(build_app(settings)) as client:
        first = client.post("/v1/jobs", json={"model": "credit"}).json()["id"]
        second = client.post("/v1/jobs", json={"model": "credit"}).json()["id"]
        dropped = client.delete(f"/v1/jobs/{second}").json()
        assert dropped["state"] == "cancelled" and dropped["started_at"] is None
        assert client.delete(f"/v1/jobs/{first}").json()["state"] == "cancelled"


def test_a_restart_marks_unfinished_jobs_interrupted(tmp_path):
    settings = settings_for(tmp_path)
    store = JobStore(settings.jobs_dir)
    store.create(Job(id="20261201-000000-aaaaaaaa", model="credit", state="running",
                     started_at=time.time() - 5, pid=2**22 + 17))
    store.create(Job(id="20261201-000001-bbbbbbbb", model="credit"))
    with TestClient(build_app(settings)) as client:
        running = client.get("/v1/jobs/20261201-000000-aaaaaaaa").json()
        queued = client.get("/v1/jobs/20261201-000001-bbbbbbbb").json()
    assert running["state"] == queued["state"] == "failed"
    assert running["error"].startswith("interrupted") and "running" in running["error"]
    assert "queued" in queued["error"]


@pytest.mark.parametrize(("body", "field"), [
    ({"model": "nope"}, "model"),
    ({"model": "credit", "parameters": {"epochs": 3}}, "parameters.epochs"),
    ({"model": "credit", "parameters": {"seed": -1}}, "parameters.seed"),
    ({"model": "intent", "parameters": {"target": "y"}}, "parameters.target"),
    ({"model": "credit", "parameters": {"oos_target": "recall=0.9"}}, "parameters.oos_target"),
    ({"model": "intent", "parameters": {"oos_target": "recall=1.5"}}, "parameters.oos_target"),
    ({"model": "intent", "parameters": {"oos_target": "f1=0.9"}}, "parameters.oos_target"),
    ({"model": "credit", "data_path": "/etc/passwd"}, "data_path"),
    ({"model": "credit", "data_path": "missing.csv"}, "data_path"),
    ({"model": "credit", "colour": "red"}, "colour"),
])
def test_mistakes_are_422_naming_the_field(tmp_path, body, field):
    settings = settings_for(tmp_path)
    if body.get("data_path") == "missing.csv":
        body = {**body, "data_path": str(tmp_path / "data" / "missing.csv")}
    with TestClient(build_app(settings)) as client:
        answer = client.post("/v1/jobs", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in answer.json()["errors"]]
        assert client.get("/v1/jobs").json()["jobs"] == []


def test_bad_uploads_and_unknown_jobs(tmp_path):
    settings = settings_for(tmp_path, max_upload_bytes=10_000)
    with TestClient(build_app(settings)) as client:
        def upload(name: str, content: bytes, **fields: str):
            return client.post("/v1/jobs", data={"model": "credit", **fields},
                               files={"data": (name, content, "text/csv")})

        assert upload("loans.exe", b"a,b\n1,2\n").status_code == 422
        assert upload("loans.csv", b"").json()["errors"][0]["field"] == "data"
        assert upload("loans.csv", b"a\n1\n", parameters="{not json").status_code == 422
        assert upload("loans.csv", b"a\n1\n", data_path="x.csv").status_code == 422
        assert upload("big.csv", b"x" * 2_000_000).status_code == 413
        missing = client.get("/v1/jobs/20260101-000000-deadbeef")
        assert missing.status_code == 404 and missing.json()["title"] == "Job not found"
        assert client.delete("/v1/jobs/../../etc").status_code == 404
        assert client.get("/v1/jobs").json()["jobs"] == []


def test_a_training_file_the_model_cannot_use_is_a_422_naming_line_and_column(tmp_path):
    settings = settings_for(tmp_path)
    with TestClient(build_app(settings)) as client:
        intents = b"text,label\nfreeze my card,freeze_card\n,freeze_card\n"
        answer = client.post("/v1/jobs", data={"model": "intent"},
                             files={"data": ("mine.csv", intents, "text/csv")})
        assert answer.status_code == 422, answer.text
        errors = answer.json()["errors"]
        assert {"field": "line 3, column text", "message": "empty text", "type": "data",
                "line": 3, "column": "text"} in errors
        assert any("at least two labels" in e["message"] for e in errors)
        sentences = b'{"text": "send 500 to rahul@ybl", "entities": [[12, 99, "UPI_ID"]]}\n{oops\n'
        ner = client.post("/v1/jobs", data={"model": "ner"},
                          files={"data": ("mine.jsonl", sentences, "application/x-ndjson")})
        assert ner.status_code == 422, ner.text
        fields = {e["field"] for e in ner.json()["errors"]}
        assert {"line 1, column entities[0]", "line 2"} <= fields
        loans = credit_csv(tmp_path / "data" / "loans.csv")
        no_target = client.post("/v1/jobs", json={"model": "credit", "data_path": str(loans),
                                                  "parameters": {"target": "repaid"}})
        assert no_target.status_code == 422
        assert no_target.json()["errors"][0]["column"] == "repaid"
        few = tmp_path / "data" / "few.csv"  # 2 defaults: no fold of the CV would hold one
        lines = loans.read_text().splitlines()
        header = lines[0].split(",")
        at = header.index("defaulted")
        rows = [r for r in lines[1:] if r.split(",")[at] == "0"][:10]
        rows += [r for r in lines[1:] if r.split(",")[at] == "1"][:2]
        few.write_text("\n".join([lines[0], *rows]) + "\n")
        too_few = client.post("/v1/jobs", json={"model": "credit", "data_path": str(few),
                                                "parameters": {"target": "defaulted"}})
        assert too_few.status_code == 422, too_few.text
        assert "at least 10 complete rows of each value" in too_few.text
        assert "2 of 1" in too_few.text
        assert client.get("/v1/jobs").json()["jobs"] == []
    assert list(settings.jobs_dir.iterdir()) == []  # the refused upload is not kept


def test_an_intent_operating_point_reaches_the_trainer_as_its_flag(tmp_path):
    """`oos_target` is intent's `--oos-target`; the trainer's own parser accepts what passes."""
    from services.intent.train import parse_oos_target

    with TestClient(build_app(settings_for(tmp_path))) as client:
        runner = client.app.state.runner
        job = Job(id="20261201-000000-cccccccc", model="intent",
                  parameters={"quick": True, "oos_target": "precision=0.95"})
        argv = runner.command(job)
    assert argv[argv.index("--oos-target") + 1] == "precision=0.95"
    assert parse_oos_target("precision=0.95") == ("precision", 0.95)
