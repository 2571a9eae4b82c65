"""A hot swap keeps the users' profiles: the next version scores against the same history,
and its warm-up writes no profile."""

from __future__ import annotations

import shutil

from kit.registry import PRODUCTION, FileRegistry
from kit.testing import running_client
from services.anomaly.app import build_app
from services.anomaly.settings import AnomalySettings
from tests.procs import copy_as_new_version

from .helpers import at, instance, score

NEW = "29990101-000000"


async def test_profiles_survive_a_swap_and_the_warm_up_observes_nobody(model_dir, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(model_dir, root)
    copy_as_new_version(root, "anomaly", NEW)
    settings = AnomalySettings(model_dir=root, registry_poll_seconds=0)
    async with running_client(build_app(settings)) as client:
        for k, amount in enumerate((300.0, 310.0, 290.0)):
            await score(client, instance("keeper", at(-3600 + k * 600), amount))
        old = client._transport.app.state.model_state.model
        FileRegistry(root, "anomaly").set_alias(PRODUCTION, NEW, actor="test", reason="swap")
        assert (await client.post("/admin/reload")).json()["serving"] == {"production": NEW}
        new = client._transport.app.state.model_state.model
        assert new is not old and new.version == NEW
        assert new.profiles.profile("keeper")["a"] == [300.0, 310.0, 290.0]
        [after] = await score(client, instance("keeper", at(0), 305.0))
        assert not any(r.startswith("new user") for r in after["reasons"])
        assert new.profiles.profile("demo-user") is None  # the table's example, the warm-up
