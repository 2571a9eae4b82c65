"""Hot swap in one service: the alias moves, the new version serves without a restart; a
request in flight finishes on its version; a broken version never replaces a working one;
two versions side by side; the admin routes."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest

from kit import ArtifactStore, ServedModel, ServiceSettings, create_app
from kit.registry import CANDIDATE, PRODUCTION, FileRegistry
from kit.testing import running_client

V1, V2, V3 = "20260101-000000", "20260201-000000", "20260301-000000"


class ToyModel(ServedModel):
    """Answers its weights file; predict waits on `hold` when asked to (`"wait"`)."""

    name = "toy"
    hold = threading.Event()
    loads = 0

    def load(self, artifact):
        self.weights = artifact.file("weights.bin").read_text()
        if self.weights == "broken":
            raise ValueError("cannot parse weights")
        ToyModel.loads += 1
        super().load(artifact)

    def predict(self, instances):
        if instances and instances[0] == "wait":
            assert self.hold.wait(10)
        return [{"weights": self.weights} for _ in instances]


def _version(root, version: str, weights: str | None = None) -> None:
    staging = root / f"staging-{version}"
    staging.mkdir()
    (staging / "weights.bin").write_text(weights or f"w-{version}")
    ArtifactStore(root, "toy").save(staging, {"metrics": {}}, version=version)


@pytest.fixture
def models(tmp_path):
    for version in (V1, V2):
        _version(tmp_path, version)
    registry = FileRegistry(tmp_path, "toy")
    registry.set_alias(PRODUCTION, V1, actor="test", reason="first")
    ToyModel.hold.set()
    return tmp_path, registry


def _settings(root, **extra) -> ServiceSettings:
    return ServiceSettings(model_dir=root, registry_poll_seconds=0, **extra)


async def _predict(client, instances=(1,), path="/v1/models/toy:predict"):
    return await client.post(path, json={"instances": list(instances)})


async def test_a_moved_alias_is_served_after_reload_without_a_restart(models):
    root, registry = models
    app = create_app(ToyModel, _settings(root))
    async with running_client(app) as client:
        assert (await _predict(client)).json()["model_version"] == V1
        meta = (await client.get("/v1/models/toy")).json()
        assert meta["release"]["version"] == V1 and meta["release"]["seq"] == 1
        registry.set_alias(PRODUCTION, V2, actor="test", reason="promote")
        assert (await _predict(client)).json()["model_version"] == V1  # no poll: not yet
        done = (await client.post("/admin/reload")).json()
        assert done["serving"] == {"production": V2}
        answer = (await _predict(client)).json()
        assert answer["model_version"] == V2 and answer["predictions"][0]["weights"] == f"w-{V2}"
        metrics = (await client.get("/metrics")).text
        assert f'finfleet_model_info{{service="toy",version="{V2}"}} 1.0' in metrics
        assert f'version="{V1}"' not in metrics
        assert 'finfleet_model_release_seq{service="toy"} 2.0' in metrics


async def test_the_heap_settles_at_once_after_a_first_load_and_later_after_a_swap(
        models, monkeypatch):
    root, registry = models
    settles = []
    monkeypatch.setattr("kit.swap.heap.settle", lambda: settles.append(1) or {"frozen": 1})
    monkeypatch.setattr("kit.swap.heap.SETTLE_AFTER_SECONDS", 0.2)
    app = create_app(ToyModel, _settings(root))
    async with running_client(app) as client:
        await _predict(client)
        assert len(settles) == 1  # the first load, at once
        await client.post("/admin/reload")
        await asyncio.sleep(0.3)
        assert len(settles) == 1  # nothing moved
        registry.set_alias(PRODUCTION, V2, actor="test", reason="promote")
        await client.post("/admin/reload")
        assert len(settles) == 1  # not while requests may hold the old version
        await asyncio.sleep(0.4)
        assert len(settles) == 2


async def test_a_version_replaced_under_load_is_freed_though_the_heap_was_frozen(
        models, monkeypatch):
    """The real collector: v1 sits in a reference cycle (as a batching model does with its
    batcher) and a request holds it through the swap; once that request is done, the settle
    after the swap collects it."""
    root, registry = models
    monkeypatch.setattr("kit.heap.enabled", True)
    monkeypatch.setattr("kit.swap.heap.SETTLE_AFTER_SECONDS", 0.3)
    app = create_app(ToyModel, _settings(root))
    try:
        async with running_client(app) as client:
            await _predict(client)
            old = app.state.model_state.model
            old.cycle = old
            gone = weakref.ref(old)
            del old
            ToyModel.hold.clear()
            held = asyncio.create_task(_predict(client, ["wait"]))
            await asyncio.sleep(0.05)
            registry.set_alias(PRODUCTION, V2, actor="test", reason="promote")
            await client.post("/admin/reload")
            ToyModel.hold.set()
            assert (await held).json()["model_version"] == V1
            await asyncio.sleep(0.6)
            assert gone() is None
            assert (await _predict(client)).json()["model_version"] == V2
    finally:
        ToyModel.hold.set()
        gc.unfreeze()


async def test_the_poll_follows_the_alias(models):
    root, registry = models
    app = create_app(ToyModel, ServiceSettings(model_dir=root, registry_poll_seconds=0.05))
    async with running_client(app) as client:
        registry.set_alias(PRODUCTION, V2, actor="test", reason="promote")
        for _ in range(100):
            if (await _predict(client)).json()["model_version"] == V2:
                break
            await asyncio.sleep(0.02)
        assert (await _predict(client)).json()["model_version"] == V2


async def test_a_request_in_flight_finishes_on_the_version_it_started_on(models):
    root, registry = models
    app = create_app(ToyModel, _settings(root))
    async with running_client(app) as client:
        ToyModel.hold.clear()
        slow = asyncio.create_task(_predict(client, ["wait"]))
        await asyncio.sleep(0.05)
        registry.set_alias(PRODUCTION, V2, actor="test", reason="promote")
        await client.post("/admin/reload")
        assert (await _predict(client)).json()["model_version"] == V2
        ToyModel.hold.set()
        answer = (await slow).json()
    assert answer["model_version"] == V1 and answer["predictions"][0]["weights"] == f"w-{V1}"


async def test_a_version_that_fails_to_load_never_replaces_the_working_one(models):
    root, registry = models
    _version(root, V3, weights="broken")
    app = create_app(ToyModel, _settings(root))
    async with running_client(app) as client:
        registry.set_alias(PRODUCTION, V3, actor="test", reason="bad one")
        done = (await client.post("/admin/reload")).json()
        assert done["serving"] == {"production": V1}
        assert "cannot parse weights" in done["last_failure"]["error"]
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["version"] == V1
        assert ready.json()["last_reload_failure"]["version"] == V3
        assert (await _predict(client)).json()["model_version"] == V1
        metrics = (await client.get("/metrics")).text
        assert 'finfleet_model_reloads_total{outcome="failed",service="toy"} 1.0' in metrics


async def test_a_tampered_version_is_refused_by_its_checksums(models):
    root, registry = models
    (root / "toy" / V2 / "weights.bin").write_text("tampered")
    app = create_app(ToyModel, _settings(root))
    async with running_client(app) as client:
        registry.set_alias(PRODUCTION, V2, actor="test", reason="promote")
        done = (await client.post("/admin/reload")).json()
    assert done["serving"] == {"production": V1}
    assert "sha256 mismatch" in done["last_failure"]["error"]


async def test_candidate_and_production_side_by_side_by_version(models):
    root, registry = models
    registry.set_alias(CANDIDATE, V2, actor="test", reason="new")
    app = create_app(ToyModel, _settings(root, serve_candidate=True))
    async with running_client(app) as client:
        for _ in range(200):  # the candidate loads in the background, after production
            if app.state.model_state.by_version(V2) is not None:
                break
            await asyncio.sleep(0.05)
        for version in (V1, V2):
            answer = await _predict(client, path=f"/v1/models/toy/versions/{version}:predict")
            assert answer.status_code == 200
            assert answer.json()["model_version"] == version
            assert answer.json()["predictions"] == [{"weights": f"w-{version}"}]
        assert (await _predict(client)).json()["model_version"] == V1
        missing = await _predict(client, path="/v1/models/toy/versions/1999:predict")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert V1 in missing.json()["detail"] and V2 in missing.json()["detail"]
        meta = (await client.get(f"/v1/models/toy/versions/{V2}")).json()
        assert meta["version"] == V2
        loads = ToyModel.loads
        # promoting the candidate reuses the version already held: no second load
        registry.set_alias(PRODUCTION, V2, actor="test", reason="promote")
        await client.post("/admin/reload")
        assert (await _predict(client)).json()["model_version"] == V2
        assert ToyModel.loads == loads
        docs = (await client.get("/openapi.json")).json()
        assert "/v1/models/toy/versions/{version}:predict" in docs["paths"]


async def test_a_pinned_version_never_swaps(models):
    root, registry = models
    app = create_app(ToyModel, _settings(root, model_version=V2))
    async with running_client(app) as client:
        registry.set_alias(PRODUCTION, V1, actor="test", reason="x")
        await client.post("/admin/reload")
        assert (await _predict(client)).json()["model_version"] == V2
        assert (await client.get("/health/ready")).json()["release"]["pinned"] is True


async def test_admin_routes_need_the_token_when_one_is_set(models):
    root, registry = models
    app = create_app(ToyModel, _settings(root, admin_token="t0ken"))
    async with running_client(app) as client:
        assert (await client.post("/admin/reload")).status_code == 401
        wrong = await client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await client.post("/admin/reload", headers={"Authorization": "Bearer t0ken"})
        assert ok.status_code == 200
        listing = await client.get("/admin/registry", headers={"Authorization": "Bearer t0ken"})
        assert listing.json()["aliases"] == {PRODUCTION: V1}
        bad = await client.put("/admin/aliases/candidate", json={"version": "1999"},
                               headers={"Authorization": "Bearer t0ken"})
        assert bad.status_code == 409 and "1999" in bad.json()["detail"]
        moved = await client.put("/admin/aliases/candidate", json={"version": V2},
                                 headers={"Authorization": "Bearer t0ken"})
        assert moved.status_code == 200 and registry.aliases().aliases[CANDIDATE] == V2
        rolled = await client.post("/admin/rollback", json={},
                                   headers={"Authorization": "Bearer t0ken"})
        assert rolled.status_code == 409  # nothing to roll back to yet
