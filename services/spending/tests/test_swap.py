"""A hot swap keeps the users' stored transactions: the next version forecasts from them."""

from __future__ import annotations

import shutil

from kit.registry import PRODUCTION, FileRegistry
from kit.testing import running_client
from services.spending.app import build_app
from services.spending.settings import SpendingSettings
from tests.procs import copy_as_new_version

from .conftest import daily_transactions

NEW = "29990101-000000"
PREDICT = "/v1/models/spending:predict"


async def test_stored_transactions_survive_a_swap(model_dir, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(model_dir, root)
    copy_as_new_version(root, "spending", NEW)
    settings = SpendingSettings(model_dir=root, registry_poll_seconds=0)
    async with running_client(build_app(settings)) as client:
        transactions = daily_transactions("2024-01-01", "2024-06-30")
        stored = await client.post("/v1/users/u-7/transactions",
                                   json={"transactions": transactions})
        assert stored.status_code == 201
        FileRegistry(root, "spending").set_alias(PRODUCTION, NEW, actor="test", reason="swap")
        assert (await client.post("/admin/reload")).json()["serving"] == {"production": NEW}
        body = {"instances": [{"user_id": "u-7", "horizon_months": 2}]}
        answer = (await client.post(PREDICT, json=body)).json()
    assert answer["model_version"] == NEW
    assert answer["predictions"][0]["history_months"] == 6
