"""The MLflow registry against a real `mlflow server` (SQLite backend, served artifacts), started
once for the module from `.venv-mlflow/` (`make mlflow-server-venv`; CI builds it, so there a
missing venv fails the run instead of skipping)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

import pytest

from kit import procs
from kit.artifacts import MANIFEST, Artifact, ArtifactError, ArtifactStore, sha256_file
from kit.registry import (
    CANDIDATE,
    PRODUCTION,
    Change,
    RegistryError,
    open_registry,
    previous_production,
)
from kit.registry_mlflow import (
    LOCK_SUFFIX,
    REGISTRY_TAG_LIMIT,
    MlflowApiError,
    MlflowRegistry,
    _history_value,
)
from kit.settings import REPO_ROOT

MLFLOW_VENV = REPO_ROOT / ".venv-mlflow"
V1, V2 = "20261201-085055", "20261202-091500"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    binary = MLFLOW_VENV / "bin" / "mlflow"
    if not binary.is_file():
        message = f"{binary} is missing: run `make mlflow-server-venv`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("mlflow")
    port = procs.free_port()
    proc = procs.start("mlflow", [
        str(binary), "server", "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
        "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1"], root / "mlflow.log", cwd=root,
        # No job runner (its seven huey consumers): nothing here uses MLflow's server jobs.
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, url=f"http://127.0.0.1:{port}")
    try:
        procs.wait_ready(proc, "/health", timeout_s=120)
        yield SimpleNamespace(url=proc.url, artifacts=root / "artifacts", proc=proc)
    finally:
        proc.stop(timeout_s=5)


_names = iter(range(1, 1000))


@pytest.fixture
def model(mlflow_server, tmp_path):
    """A fresh registered model (its own name) with V1 and V2 registered, and a registry on it."""
    name = f"credit{next(_names)}"
    store = ArtifactStore(tmp_path / "trained", name)
    registry = MlflowRegistry(mlflow_server.url, name, cache_dir=tmp_path / "cache")
    artifacts = {}
    for version, auc in ((V1, 0.81), (V2, 0.84)):
        artifacts[version] = saved(store, tmp_path / f"staging-{version}", version, auc)
        registry.register(artifacts[version], actor="trainer", reason=f"trained {version}")
    return SimpleNamespace(name=name, registry=registry, artifacts=artifacts,
                           server=mlflow_server, cache=tmp_path / "cache")


def saved(store: ArtifactStore, staging: Path, version: str, auc: float) -> Artifact:
    staging.mkdir()
    (staging / "model.onnx").write_bytes(version.encode() * 100)
    (staging / "vocab").mkdir()
    (staging / "vocab" / "words.txt").write_text("loan\nrent\n")
    (staging / "report.md").write_text(f"# credit model\n\nAUC {auc}\n")
    manifest = {"data": "generated", "data_sha256": "ab" * 32,
                "parameters": {"max_depth": 4, "xgb": {"eta": 0.1, "rounds": 50}, "seed": 0},
                "metrics": {"auc": auc, "by_group": {"young": auc - 0.02}, "passed": True},
                "input_schema": {"type": "object"}, "libraries": {"python": "3.11.7"},
                "train_seconds": 2.5}
    return store.save(staging, manifest, version=version)


def api(server, endpoint: str, **query: str) -> dict:
    registry = MlflowRegistry(server.url, "unused", cache_dir="/nonexistent")
    return registry._api("GET", endpoint, query=query)


def mlflow_versions(model) -> list[dict]:
    return api(model.server, "model-versions/search",
               filter=f"name='{model.name}'")["model_versions"]


def source_folder(model, version: str) -> Path:
    """Where the server keeps a version's files (`--artifacts-destination`)."""
    mv = next(m for m in mlflow_versions(model)
              if {t["key"]: t["value"] for t in m["tags"]}["finfleet.version"] == version)
    return model.server.artifacts / urllib.parse.urlsplit(mv["source"]).path.strip("/")


@pytest.mark.integration
def test_registered_versions_are_ours_and_production_falls_back_to_the_newest(model):
    registry = model.registry
    assert registry.versions() == [V1, V2]
    assert registry.aliases().aliases == {} and registry.aliases().seq == 0
    assert registry.history() == []
    nobody = MlflowRegistry(model.server.url, "never-registered", cache_dir=model.cache)
    assert (nobody.versions(), nobody.history(), nobody.resolve()) == ([], [], None)
    assert nobody.aliases().aliases == {} and nobody.aliases().seq == 0
    fallback = registry.resolve()
    assert (fallback.version, fallback.seq, fallback.fallback) == (V2, 0, True)
    assert registry.resolve(CANDIDATE) is None
    numbers = sorted(int(m["version"]) for m in mlflow_versions(model))
    registry.register(model.artifacts[V2], actor="trainer", reason="again")  # a no-op
    assert sorted(int(m["version"]) for m in mlflow_versions(model)) == numbers == [1, 2]
    elsewhere = model.cache.parent / "elsewhere"  # another trainer, in the same second
    elsewhere.mkdir()
    other = saved(ArtifactStore(elsewhere, model.name), elsewhere / "staging", V2, 0.5)
    with pytest.raises(RegistryError, match=f"version {V2} is already in MLflow .*another"):
        registry.register(other, actor="trainer", reason="clash")
    tags = {t["key"]: t["value"] for t in mlflow_versions(model)[0]["tags"]}
    assert tags["finfleet.manifest_sha256"] in {
        sha256_file(a.path / MANIFEST) for a in model.artifacts.values()}


@pytest.mark.integration
def test_aliases_are_mlflow_aliases_with_a_history_and_rollback(model):
    registry = model.registry
    first = registry.set_alias(PRODUCTION, V1, actor="ana", reason="first release")
    assert (first.seq, first.from_version, first.to_version) == (1, None, V1)
    registry.set_alias(CANDIDATE, V2, actor="trainer", reason="new candidate")
    gate = {"passed": True, "metric": "auc", "candidate": 0.84, "production": 0.81}
    promoted = registry.set_alias(PRODUCTION, V2, actor="ana", reason="gate passed", gate=gate)
    assert (promoted.seq, promoted.from_version, promoted.to_version) == (3, V1, V2)

    current = registry.aliases()
    assert current.aliases == {PRODUCTION: V2, CANDIDATE: V2} and current.seq == 3
    resolved = registry.resolve()
    assert (resolved.version, resolved.seq, resolved.fallback) == (V2, 3, False)
    model_info = api(model.server, "registered-models/get", name=model.name)["registered_model"]
    assert {a["alias"]: a["version"] for a in model_info["aliases"]} == {
        PRODUCTION: "2", CANDIDATE: "2"}  # MLflow's own numbers, under the same aliases

    history = registry.history()
    assert [c.seq for c in history] == [1, 2, 3]
    assert history[-1] == promoted and history[-1].gate == gate and history[-1].actor == "ana"
    assert previous_production(registry) == V1

    back = registry.set_alias(PRODUCTION, V1, actor="bo", reason="rollback", forced=True)
    assert (back.seq, back.from_version, back.to_version, back.forced) == (4, V2, V1, True)
    assert registry.resolve().version == V1 and registry.resolve().seq == 4
    assert previous_production(registry) == V2

    removed = registry.set_alias(CANDIDATE, None, actor="bo", reason="done")
    assert (removed.seq, removed.from_version, removed.to_version) == (5, V2, None)
    assert registry.aliases().aliases == {PRODUCTION: V1}

    with pytest.raises(RegistryError, match=f"no version '20990101-000000'.*{V1}, {V2}"):
        registry.set_alias(PRODUCTION, "20990101-000000", actor="bo", reason="typo")
    for reserved in ("latest", "v2"):
        with pytest.raises(RegistryError, match="reserved"):
            registry.set_alias(reserved, V1, actor="bo", reason="no")
    assert [c.seq for c in registry.history()] == [1, 2, 3, 4, 5]


@pytest.mark.integration
def test_a_new_registry_reads_the_same_state(model):
    model.registry.set_alias(PRODUCTION, V2, actor="ana", reason="release")
    other = MlflowRegistry(model.server.url, model.name, cache_dir=model.cache / "other")
    assert other.aliases().aliases == {PRODUCTION: V2} and other.aliases().seq == 1
    assert other.history() == model.registry.history()


@pytest.mark.integration
def test_fetch_downloads_verifies_and_reuses(model, monkeypatch):
    registry = model.registry
    artifact = registry.fetch(V2)
    assert artifact.path == model.cache / model.name / V2
    local = model.artifacts[V2]
    for relative, digest in local.manifest["files"].items():
        assert sha256_file(artifact.path / relative) == digest
    assert artifact.manifest == local.manifest
    assert ArtifactStore(model.cache, model.name).versions() == [V2]
    assert sorted(p.name for p in model.cache.iterdir()) == [model.name]  # no temp folder left

    def no_download(*args, **kwargs):
        raise AssertionError("a cached, intact version is not downloaded again")

    monkeypatch.setattr(registry, "_download", no_download)
    assert registry.fetch(V2).manifest == local.manifest
    monkeypatch.undo()

    (artifact.path / "model.onnx").write_bytes(b"tampered in the cache")
    again = registry.fetch(V2)  # a damaged cached copy is replaced by a good download
    assert sha256_file(again.path / "model.onnx") == local.manifest["files"]["model.onnx"]

    with pytest.raises(RegistryError, match="no version '20990101-000000'"):
        registry.fetch("20990101-000000")
    # `models list` reads manifests alone: V1 is not in the cache and stays out of it.
    assert registry.manifest(V1) == model.artifacts[V1].manifest
    assert not (model.cache / model.name / V1).exists()


@pytest.mark.integration
def test_a_tampered_download_is_refused_and_never_cached(model):
    registry = model.registry
    server_copy = source_folder(model, V1)
    (server_copy / "vocab" / "words.txt").write_text("loan\nrent\nbackdoor\n")
    with pytest.raises(ArtifactError, match=r"sha256 mismatch for vocab/words\.txt"):
        registry.fetch(V1)
    assert not (model.cache / model.name / V1).exists()
    assert [p.name for p in model.cache.iterdir() if p.name.startswith(".")] == []

    # A manifest rewritten to match the tampered file is caught by the sha256 registered with
    # the version.
    manifest = json.loads((server_copy / MANIFEST).read_text())
    manifest["files"]["vocab/words.txt"] = sha256_file(server_copy / "vocab" / "words.txt")
    (server_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"manifest\.json .*not the manifest registered"):
        registry.fetch(V1)
    with pytest.raises(ArtifactError, match=r"manifest\.json .*not the manifest registered"):
        registry.manifest(V1)
    assert not (model.cache / model.name / V1).exists()


@pytest.mark.integration
def test_two_concurrent_writers_lose_no_change(model):
    """Two writers (as two `promote` commands would) move two aliases at once: every change
    gets its own seq, and each change's `from` is the previous change's `to` (no lost update)."""
    writers = [MlflowRegistry(model.server.url, model.name, cache_dir=model.cache)
               for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    rounds = 4

    def write(registry: MlflowRegistry, actor: str) -> None:
        try:
            start.wait()
            for i in range(rounds):
                alias = PRODUCTION if i % 2 == 0 else CANDIDATE
                registry.set_alias(alias, (V1, V2)[(i // 2) % 2], actor=actor, reason=f"{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w, f"writer-{n}"))
               for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    history = model.registry.history()
    assert [c.seq for c in history] == list(range(1, 2 * rounds + 1))
    assert {c.actor for c in history} == {"writer-0", "writer-1"}
    last: dict[str, str | None] = {}
    for change in history:
        assert change.from_version == last.get(change.alias), change
        last[change.alias] = change.to_version
    assert model.registry.aliases().aliases == {k: v for k, v in last.items() if v}
    with pytest.raises(MlflowApiError) as gone:
        api(model.server, "registered-models/get", name=f"{model.name}{LOCK_SUFFIX}")
    assert gone.value.code == "RESOURCE_DOES_NOT_EXIST"  # the lock is released


@pytest.mark.integration
def test_a_held_lock_waits_and_an_expired_one_is_broken(model):
    registry = model.registry
    lock = f"{model.name}{LOCK_SUFFIX}"
    registry._create_model(lock, description="held", tags={
        "finfleet.lock.owner": "someone", "finfleet.lock.actor": "stuck-job",
        "finfleet.lock.expires": f"{time.time() + 600:.3f}"})
    registry.lock_wait_s = 0.5
    with pytest.raises(RegistryError, match="locked by stuck-job"):
        registry.set_alias(PRODUCTION, V1, actor="ana", reason="blocked")
    assert registry.history() == []

    registry._api("POST", "registered-models/set-tag", {
        "name": lock, "key": "finfleet.lock.expires", "value": f"{time.time() - 1:.3f}"})
    change = registry.set_alias(PRODUCTION, V1, actor="ana", reason="after the crash")
    assert change.seq == 1 and registry.resolve().version == V1


@pytest.mark.integration
def test_mlflow_own_client_reads_what_we_wrote(model, tmp_path):
    """MLflow's own client (from the server's venv) sees our alias, version, run and files."""
    model.registry.set_alias(PRODUCTION, V1, actor="ana", reason="release")
    script = """
import json, os, sys
import mlflow
from mlflow import MlflowClient
name, dest = sys.argv[1], sys.argv[2]
client = MlflowClient()
mv = client.get_model_version_by_alias(name, "production")
run = client.get_run(mv.run_id)
files = mlflow.artifacts.download_artifacts(f"models:/{name}@production", dst_path=dest)
print(json.dumps({"version": mv.version, "tags": mv.tags, "aliases": list(mv.aliases),
                  "params": run.data.params, "metrics": run.data.metrics,
                  "run_tags": run.data.tags, "status": run.info.status,
                  "run_files": sorted(a.path for a in client.list_artifacts(mv.run_id)),
                  "files": sorted(str(p.relative_to(files)) for p in
                                  __import__("pathlib").Path(files).rglob("*") if p.is_file())}))
"""
    done = subprocess.run(
        [str(MLFLOW_VENV / "bin" / "python"), "-c", script, model.name, str(tmp_path / "dl")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "MLFLOW_TRACKING_URI": model.server.url})
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["version"] == "1" and seen["aliases"] == [PRODUCTION]
    assert seen["tags"]["finfleet.version"] == V1
    assert seen["params"] == {"max_depth": "4", "xgb.eta": "0.1", "xgb.rounds": "50", "seed": "0"}
    assert seen["metrics"] == {"auc": 0.81, "by_group.young": pytest.approx(0.79),
                               "train_seconds": 2.5}
    assert seen["status"] == "FINISHED"
    assert seen["run_tags"]["finfleet.data_sha256"] == "ab" * 32
    assert json.loads(seen["run_tags"]["finfleet.libraries"]) == {"python": "3.11.7"}
    assert seen["run_tags"]["mlflow.note.content"].startswith("# credit model")
    assert seen["run_files"] == ["model", "report.md"]
    assert seen["files"] == sorted([MANIFEST, "model.onnx", "report.md", "vocab/words.txt"])


def test_open_registry_picks_mlflow_when_a_tracking_uri_is_set(tmp_path):
    settings = SimpleNamespace(mlflow_tracking_uri="http://127.0.0.1:5000", model_dir=tmp_path)
    registry = open_registry(settings, "credit")
    assert isinstance(registry, MlflowRegistry) and registry.cache_dir == tmp_path
    settings.mlflow_tracking_uri = None
    assert not isinstance(open_registry(settings, "credit"), MlflowRegistry)
    with pytest.raises(RegistryError, match="not an MLflow server's http"):
        MlflowRegistry("sqlite:///mlflow.db", "credit", cache_dir=tmp_path)


def test_settings_default_to_mlflow_tracking_uri(monkeypatch):
    from pydantic_settings import SettingsConfigDict

    from kit.settings import ServiceSettings

    class CreditSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore")

    monkeypatch.delenv("CREDIT_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert CreditSettings().mlflow_tracking_uri is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert CreditSettings().mlflow_tracking_uri == "http://mlflow:5000"
    monkeypatch.setenv("CREDIT_MLFLOW_TRACKING_URI", "http://other:5000")
    assert CreditSettings().mlflow_tracking_uri == "http://other:5000"


def test_an_oversized_gate_is_trimmed_to_fit_a_tag():
    gate = {"passed": False, "metric": "auc", "per_group": {f"g{i}": i / 7 for i in range(2000)},
            "note": "x" * 10_000}
    change = Change(seq=7, alias=PRODUCTION, from_version=V1, to_version=V2,
                    at="2026-12-01T00:00:00.000+00:00", actor="ana", reason="r" * 5000, gate=gate)
    body = _history_value(change, "1", "2")
    assert len(body) <= REGISTRY_TAG_LIMIT
    stored = Change.from_dict(json.loads(body))
    assert stored.gate == {"passed": False, "metric": "auc", "trimmed": True}
    assert (stored.seq, stored.from_version, stored.to_version) == (7, V1, V2)
    assert len(stored.reason) == 1000
    small = Change(**{**change.__dict__, "gate": {"passed": True}, "reason": "ok"})
    assert Change.from_dict(json.loads(_history_value(small, "1", "2"))) == small


def test_no_lock_that_serves_or_trains_holds_mlflow():
    """The server lives in its own venv; the kit reaches it over HTTP with the standard library."""
    locks = [REPO_ROOT / "requirements" / "all.txt",
             *sorted((REPO_ROOT / "requirements" / "images").glob("*.txt"))]
    for lock in locks:
        pinned = [line.split("==")[0] for line in lock.read_text().splitlines()
                  if line[:1].isalnum()]
        assert not [n for n in pinned if n.startswith("mlflow")], lock.name
    source = (REPO_ROOT / "kit" / "registry_mlflow.py").read_text()
    assert not re.search(r"^\s*(import|from) (mlflow|requests|httpx)\b", source, re.M)


@pytest.mark.integration
def test_the_release_commands_work_on_mlflow(mlflow_server, tmp_path):
    """What a trainer does (`register_candidate`) and what `models list` shows (`describe`)."""
    from kit.releases import describe, register_candidate

    name = f"credit{next(_names)}"
    registry = MlflowRegistry(mlflow_server.url, name, cache_dir=tmp_path / "models")
    artifact = saved(ArtifactStore(tmp_path / "models", name), tmp_path / "staging", V1, 0.8)
    changes = register_candidate(registry, artifact, actor="train")
    assert [(c.alias, c.to_version) for c in changes] == [(PRODUCTION, V1), (CANDIDATE, V1)]
    assert registry.versions() == [V1] and registry.resolve().seq == 2
    listed = describe(registry)
    assert listed["aliases"] == {CANDIDATE: V1, PRODUCTION: V1} and listed["seq"] == 2
    assert listed["versions"][0]["metrics"]["auc"] == 0.8
    assert registry.fetch(V1).path == artifact.path  # the trainer's own copy is the cache


@pytest.mark.integration
def test_a_service_serves_production_from_mlflow_and_follows_it(mlflow_server, tmp_path):
    """A real credit service with only an MLflow URI and an empty model_dir: it fetches
    `@production` from MLflow, serves it, and swaps when the alias moves."""
    from kit.catalog import load_catalog

    trained = ArtifactStore(REPO_ROOT / "models", "credit")
    if not trained.versions():
        pytest.skip("no trained credit model under models/ (`make models`)")
    name = "credit"  # the service serves the registered model named after it
    source = trained.load()
    store = ArtifactStore(tmp_path / "trained", name)
    registry = MlflowRegistry(mlflow_server.url, name, cache_dir=tmp_path / "trained")
    for version in (V1, V2):
        staging = tmp_path / f"staging-{version}"
        staging.mkdir()
        for relative in source.manifest["files"]:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_bytes((source.path / relative).read_bytes())
        manifest = {k: v for k, v in source.manifest.items()
                    if k not in ("name", "version", "created_at", "files")}
        registry.register(store.save(staging, manifest, version=version), actor="t", reason="t")
    registry.set_alias(PRODUCTION, V1, actor="ana", reason="release")

    cache = tmp_path / "service-models"
    proc = procs.start_service("credit", cache, tmp_path / "logs", env={
        "CREDIT_MLFLOW_TRACKING_URI": mlflow_server.url, "CREDIT_REGISTRY_POLL_SECONDS": "0.5",
        "CREDIT_LOG_LEVEL": "WARNING"}, timeout_s=120)
    try:
        body = json.dumps({"instances": [load_catalog().service("credit").example]}).encode()
        status, answer = procs.post_json(f"{proc.url}/v1/models/credit:predict", body)
        assert status == 200 and json.loads(answer)["model_version"] == V1
        assert ArtifactStore(cache, name).versions() == [V1]  # fetched from MLflow

        registry.set_alias(PRODUCTION, V2, actor="ana", reason="promote")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, answer = procs.post_json(f"{proc.url}/v1/models/credit:predict", body)
            if status == 200 and json.loads(answer)["model_version"] == V2:
                break
            time.sleep(0.2)
        assert json.loads(answer)["model_version"] == V2, answer[:300]
        assert ArtifactStore(cache, name).versions() == [V1, V2]
    finally:
        proc.stop()
