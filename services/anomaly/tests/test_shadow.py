"""Shadow predictions (`X-Finfleet-Shadow: 1` on a version-addressed predict) change no state:
the user's and the merchant's profiles are the same with and without a shadow, feedback cannot
name a shadowed transaction, and the shadow scores what a real predict would score."""

from __future__ import annotations

import copy
import shutil

from kit.registry import CANDIDATE, PRODUCTION, FileRegistry
from kit.testing import running_client
from services.anomaly.app import build_app
from services.anomaly.settings import AnomalySettings
from tests.procs import copy_as_new_version

from .helpers import at, instance, score, warm_history

SHADOW = {"X-Finfleet-Shadow": "1"}
NEW = "29990101-000000"


async def shadow(client, version: str, *instances) -> list[dict]:
    response = await client.post(f"/v1/models/anomaly/versions/{version}:predict",
                                 json={"instances": list(instances)}, headers=SHADOW)
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == version
    return response.json()["predictions"]


def state(model, user: str, merchants: list[str]) -> dict:
    """Everything a scored transaction can write, copied (the memory store hands out its own)."""
    return copy.deepcopy({"profile": model.profiles.profile(user),
                          "merchants": {m: model.profiles.merchant(m) for m in merchants}})


async def test_a_shadow_changes_no_profile_and_scores_what_predict_would(model_dir):
    async with running_client(build_app(AnomalySettings(model_dir=model_dir))) as client:
        model = client._transport.app.state.model_state.model
        await warm_history(client, "shadowed")
        [seen] = await score(client, instance("shadowed", at(-7200), 410.0, tx_id="seen-1"))
        assert (await client.post("/v1/feedback", json={"transaction_id": "seen-1",
                                                        "label": "fraud"})).status_code == 201
        merchants = ["kirana-1", "kirana-2", "jeweller-9"]
        before = state(model, "shadowed", merchants)
        assert before["merchants"]["kirana-1"]["fraud"]  # the feedback is part of the state
        new = [instance("shadowed", at(0), 395.0, tx_id="new-1"),
               instance("stranger", at(0), 2500.0, merchant="jeweller-9", tx_id="new-2")]

        shadowed = await shadow(client, model.version, *new)
        assert state(model, "shadowed", merchants) == before
        assert model.profiles.profile("stranger") is None
        assert model.profiles.transaction("new-1") is None
        unknown = await client.post("/v1/feedback", json={"transaction_id": "new-1",
                                                          "label": "fraud"})
        assert unknown.status_code == 404
        assert state(model, "shadowed", merchants) == before

        real = await score(client, *new)  # the same transactions, now for real
        assert shadowed == real
        after = state(model, "shadowed", merchants)
        assert after != before and after["profile"]["i"][-1] == "new-1"

        # The gateway's order: the shadow copy of a request production has already answered
        # scores each transaction without itself, as production did, and writes nothing.
        assert await shadow(client, model.version, *new) == real
        assert await shadow(client, model.version,
                            instance("shadowed", at(-7200), 410.0, tx_id="seen-1")) == [seen]
        assert state(model, "shadowed", merchants) == after

        metrics = (await client.get("/metrics")).text
        assert 'finfleet_shadow_predictions_total{outcome="ok",service="anomaly"} 5.0' in metrics


async def test_a_candidate_shadows_against_the_production_profiles(model_dir, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(model_dir, root)
    registry = FileRegistry(root, "anomaly")
    old = registry.resolve(PRODUCTION).version
    copy_as_new_version(root, "anomaly", NEW)
    registry.set_alias(PRODUCTION, old, actor="test", reason="serving")
    registry.set_alias(CANDIDATE, NEW, actor="test", reason="shadow it")
    settings = AnomalySettings(model_dir=root, registry_poll_seconds=0, serve_candidate=True)
    async with running_client(build_app(settings)) as client:
        held = client._transport.app.state.model_state
        loaded = (await client.post("/admin/reload")).json()["serving"]  # after the candidate
        assert loaded == {"production": old, "candidate": NEW}
        production = held.model
        await warm_history(client, "both")
        before = state(production, "both", ["kirana-1"])
        tx = instance("both", at(0), 9000.0, tx_id="big-1")
        [shadowed] = await shadow(client, NEW, tx)  # the same artifact: the same scores
        assert state(production, "both", ["kirana-1"]) == before
        assert await score(client, tx) == [shadowed]
        assert await shadow(client, NEW, tx) == [shadowed]  # after production recorded it
        # without the header the candidate's version route is a real predict: it records
        real = await client.post(f"/v1/models/anomaly/versions/{NEW}:predict",
                                 json={"instances": [instance("both", at(60), 80.0)]})
        assert real.status_code == 200
        assert len(production.profiles.profile("both")["a"]) == len(before["profile"]["a"]) + 2
