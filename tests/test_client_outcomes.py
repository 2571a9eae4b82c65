"""The Python client's side of the prediction log: ids on an answer, outcomes sent (httpx's
MockTransport stands in for the gateway; the real round trip is tests/test_predlog_shared.py)."""

from __future__ import annotations

import json

import httpx

from finfleet.client import AsyncClient, Client


def gateway(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/scorer":
        return httpx.Response(200, json={"model_name": "scorer", "model_version": "v1",
                                         "prediction": {"band": "low"}, "prediction_id": "p-1"})
    assert request.url.path == "/v1/models/scorer/outcomes"
    sent = json.loads(request.content)["outcomes"]
    return httpx.Response(200, json={"model_name": "scorer", "stored": len(sent), "unknown": 0,
                                     "results": [{"index": i, "status": "stored",
                                                  "prediction_id": o["prediction_id"]}
                                                 for i, o in enumerate(sent)]})


def test_the_answer_names_its_prediction_ids_and_outcomes_go_back():
    with Client("http://gw", transport=httpx.MockTransport(gateway)) as client:
        answer = client.predict("scorer", {"income": 1})
        assert answer.prediction_ids == ["p-1"]
        result = client.outcomes("scorer", [{"prediction_id": "p-1", "label": True}])
    assert result["stored"] == 1 and result["results"][0]["prediction_id"] == "p-1"


async def test_the_async_client_sends_outcomes_too():
    async with AsyncClient("http://gw", transport=httpx.MockTransport(gateway)) as client:
        answer = await client.predict("scorer", {"income": 1})
        result = await client.outcomes("scorer", [{"prediction_id": answer.prediction_ids[0],
                                                   "label": False}])
    assert result["results"] == [{"index": 0, "status": "stored", "prediction_id": "p-1"}]
