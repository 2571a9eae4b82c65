"""The prediction log through the gateway: the services' prediction ids in its answers (none
for a cache hit, which never reached a service), outcomes passed through, and the canary's
served-by header."""

from __future__ import annotations

import asyncio

from gateway.app import build_app
from kit.testing import running_client


async def test_answers_carry_the_services_ids_and_none_for_cache_hits(make_settings, credit):
    credit.logging = True
    async with running_client(build_app(make_settings())) as client:
        first = (await client.post("/v1/credit", json={"x": 2})).json()
        again = (await client.post("/v1/credit", json={"x": 2})).json()
        mixed = (await client.post("/v1/models/credit:predict",
                                   json={"instances": [{"x": 2}, {"x": 7}]})).json()
    assert first["prediction_id"] == "p1-0"
    assert again["prediction_id"] is None and again["prediction"] == first["prediction"]
    # the cached instance has no id; the new one has the service's id for it
    assert mixed["predictions"] == [{"double": 4, "version": "v1"},
                                    {"double": 14, "version": "v1"}]
    assert mixed["prediction_ids"] == [None, "p2-0"]


async def test_uncached_models_pass_every_id_through(make_settings, credit):
    credit.logging = True
    settings = make_settings(cache_ttl={"credit": 0.0})
    async with running_client(build_app(settings)) as client:
        answer = (await client.post("/v1/credit", json=[{"x": 1}, {"x": 1}])).json()
    assert answer["prediction_ids"] == ["p1-0", "p1-1"]


async def test_outcomes_pass_through_to_the_service_as_it_answers(make_settings, credit):
    body = {"outcomes": [{"prediction_id": "p1-0", "label": True}]}
    async with running_client(build_app(make_settings())) as client:
        stored = await client.post("/v1/models/credit/outcomes", json=body,
                                   headers={"X-Request-ID": "out-1"})
        refused = await client.post("/v1/models/credit/outcomes", json={"outcomes": []})
        unknown = await client.post("/v1/models/nope/outcomes", json=body)
    assert stored.status_code == 200
    assert stored.json() == {"model_name": "credit", "stored": 1, "unknown": 0,
                             "request_id": "out-1"}
    assert credit.outcome_bodies[0] == body
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert unknown.status_code == 404


async def test_a_canaried_request_tells_the_service_it_is_served_as_canary(make_settings, credit):
    credit.candidate = "v2"
    settings = make_settings(traffic={"credit": {"canary_percent": 100}},
                             version_refresh_seconds=0.05)
    async with running_client(build_app(settings)) as client:
        for _ in range(100):
            answer = (await client.post("/v1/credit", json={"x": 3},
                                        headers={"Cache-Control": "no-cache"})).json()
            if answer["model_version"] == "v2":
                break
            await asyncio.sleep(0.05)
    assert answer["model_version"] == "v2"
    assert credit.candidate_calls[-1]["served_by"] == "canary"
    assert credit.candidate_calls[-1]["shadow"] is None
