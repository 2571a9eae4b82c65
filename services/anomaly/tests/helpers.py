"""Building requests for crafted transactions."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any


def at(seconds_from_now: float) -> str:
    """An ISO timestamp relative to the wall clock (feedback is stamped with the wall clock)."""
    return datetime.fromtimestamp(time.time() + seconds_from_now, UTC).isoformat()


def instance(user: str, when: str, amount: float, merchant: str = "kirana-1",
             category: str | None = "groceries", tx_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user, "transaction": {
        "timestamp": when, "amount": amount, "merchant": merchant, "category": category}}
    if tx_id:
        body["transaction_id"] = tx_id
    return body


async def score(client, *instances: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.post("/v1/models/anomaly:predict", json={"instances": list(instances)})
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


async def warm_history(client, user: str, days: int = 10, amount: float = 400.0) -> None:
    """A steady user: one grocery payment a day at midday (IST), at four nearby shops."""
    day0 = time.time() - days * 86_400
    midday = day0 - (day0 % 86_400) + 6.5 * 3600
    batch = [instance(user, datetime.fromtimestamp(midday + d * 86_400, UTC).isoformat(),
                      amount + 10 * (d % 3), merchant=f"kirana-{1 + d % 4}")
             for d in range(days)]
    await score(client, *batch)
