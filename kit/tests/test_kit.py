"""The kit on its own: readiness while loading, artifact integrity, the problem renderer."""

import asyncio
import threading
import time

import pytest

from kit import ArtifactStore, ServedModel, ServiceSettings, create_app
from kit.artifacts import ArtifactError
from kit.testing import running_client


class SlowModel(ServedModel):
    """Blocks in load until released, so the test can look at the service while it loads."""

    name = "slow"
    gate = threading.Event()

    def load(self, artifact):
        assert self.gate.wait(10)
        super().load(artifact)

    def predict(self, instances):
        if instances[0] == "boom":
            raise RuntimeError("secret internals /etc/passwd")
        return [{"echo": i} for i in instances]


def _store_with_version(root, name="slow"):
    staging = root / "staging"
    staging.mkdir()
    (staging / "weights.bin").write_bytes(b"\x00\x01")
    return ArtifactStore(root, name).save(staging, {"metrics": {"x": 1}})


async def test_ready_only_after_the_model_loads(tmp_path):
    _store_with_version(tmp_path)
    SlowModel.gate.clear()
    app = create_app(SlowModel, ServiceSettings(model_dir=tmp_path))
    async with running_client(app, wait_ready=False) as client:
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["reason"] == "model is loading"
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.post("/v1/models/slow:predict",
                                  json={"instances": [1]})).status_code == 503
        SlowModel.gate.set()
        for _ in range(200):
            if (await client.get("/health/ready")).status_code == 200:
                break
            await asyncio.sleep(0.01)
        assert (await client.get("/health/ready")).json()["status"] == "ready"
        ok = await client.post("/v1/models/slow:predict", json={"instances": [1, 2]})
        assert ok.json()["predictions"] == [{"echo": 1}, {"echo": 2}]


async def test_a_bug_is_a_500_problem_without_internals(tmp_path):
    _store_with_version(tmp_path)
    SlowModel.gate.set()
    app = create_app(SlowModel, ServiceSettings(model_dir=tmp_path))
    async with running_client(app) as client:
        response = await client.post("/v1/models/slow:predict", json={"instances": ["boom"]})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "passwd" not in response.text and "Traceback" not in response.text


def test_sha256_mismatch_refuses_to_load(tmp_path):
    artifact = _store_with_version(tmp_path)
    (artifact.path / "weights.bin").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match=r"sha256 mismatch for weights\.bin"):
        ArtifactStore(tmp_path, "slow").load()


async def test_tampered_artifact_keeps_the_service_not_ready(tmp_path):
    artifact = _store_with_version(tmp_path)
    (artifact.path / "weights.bin").unlink()
    SlowModel.gate.set()
    app = create_app(SlowModel, ServiceSettings(model_dir=tmp_path))
    async with running_client(app, wait_ready=False) as client:
        for _ in range(100):
            body = (await client.get("/health/ready")).json()
            if body["reason"] != "model is loading":
                break
            await asyncio.sleep(0.01)
    assert "artifact file missing: weights.bin" in body["reason"]


def test_newest_version_unless_pinned(tmp_path):
    store = ArtifactStore(tmp_path, "m")
    for version in ("20240101-000000", "20250101-000000"):
        staging = tmp_path / f"s{version}"
        staging.mkdir()
        (staging / "f").write_text(version)
        store.save(staging, {}, version=version)
    assert store.load().version == "20250101-000000"
    assert store.load("20240101-000000").version == "20240101-000000"
    with pytest.raises(ArtifactError, match="not found; available"):
        store.load("1999")


def test_model_version_setting_comes_from_the_service_prefix(monkeypatch):
    from services.credit.settings import CreditSettings

    monkeypatch.setenv("CREDIT_MODEL_VERSION", "20240101-000000")
    monkeypatch.setenv("CREDIT_MAX_INSTANCES", "7")
    settings = CreditSettings()
    assert settings.model_version == "20240101-000000" and settings.max_instances == 7


async def test_the_hot_path_answers_as_the_full_stack_does(tmp_path):
    """`HotPathApp` sends predict around FastAPI's layers; every answer, error or not, must be
    what the full stack gives (request ids aside), and metrics must name the route."""
    _store_with_version(tmp_path)
    SlowModel.gate.set()
    settings = ServiceSettings(model_dir=tmp_path, max_body_bytes=2_000)
    requests = [
        {"json": {"instances": [1, 2]}},
        {"json": {"instances": ["boom"]}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"json": {"rows": [1]}},
        {"json": {"instances": ["x" * 3_000]}},
    ]

    async def answers(hot: bool) -> list[tuple]:
        app = create_app(SlowModel, settings)
        assert len(app.hot_routes) == 4  # predict and by version, V1 and V2 (kit/v2.py)
        if not hot:
            app.hot_routes = ()
        out = []
        async with running_client(app) as client:
            for request in requests:
                response = await client.post("/v1/models/slow:predict", **request)
                body = response.json()
                body.pop("request_id", None)
                ids = body.pop("prediction_ids", None)  # random: compared by count
                out.append((response.status_code, response.headers["content-type"], body,
                            None if ids is None else len(ids)))
                if hot:  # the full stack answers a bug's 500 outside the request-id middleware
                    assert "x-request-id" in response.headers
            wrong_method = await client.get("/v1/models/slow:predict")
            out.append((wrong_method.status_code,))
            metrics = (await client.get("/metrics")).text
        assert 'route="/v1/models/{name}:predict"' not in metrics
        assert 'route="/v1/models/slow:predict",service="slow",status="500"' in metrics
        return out

    hot, full = await answers(True), await answers(False)
    assert hot == full
    assert [a[0] for a in hot] == [200, 500, 400, 422, 413, 405]


class ThreadNamingModel(ServedModel):
    """Answers with the name of the thread its predict ran on."""

    name = "threads"
    inline_max_instances = 1

    def predict(self, instances):
        time.sleep(0.01)  # long enough for concurrent requests to overlap
        return [{"thread": threading.current_thread().name} for _ in instances]


async def test_a_lone_small_request_runs_inline_and_load_goes_to_the_pool(tmp_path):
    _store_with_version(tmp_path, "threads")
    app = create_app(ThreadNamingModel, ServiceSettings(model_dir=tmp_path))
    path = "/v1/models/threads:predict"
    async with running_client(app) as client:
        lone = (await client.post(path, json={"instances": [1]})).json()["predictions"]
        batch = (await client.post(path, json={"instances": [1, 2]})).json()["predictions"]
        together = await asyncio.gather(*(client.post(path, json={"instances": [i]})
                                          for i in range(4)))
    assert lone[0]["thread"] == threading.current_thread().name  # the event loop's thread
    assert batch[0]["thread"].startswith("threads")  # the kit's pool
    threads = [r.json()["predictions"][0]["thread"] for r in together]
    assert sum(name.startswith("threads") for name in threads) >= 3, threads
