"""The gateway against fake model services on real sockets: routing, cache, coalescing,
resilience, fan-out, auth and limits."""

from __future__ import annotations

import asyncio
import json
import re
import time

from gateway.app import build_app
from gateway.auth import hash_key
from gateway.guard import is_public
from gateway.tests.conftest import closed_port_url
from gateway.tests.fakes import FAKE_INPUT_SCHEMA, FakeModelService
from kit.testing import every_route, running_client

TRANSACTION = {"user_id": "u1", "transaction": {
    "timestamp": "2026-01-05T10:00:00", "amount": 249.0, "merchant": "swiggy",
    "description": "Swiggy order 249 INR"}}


def counter(text: str, name: str, **labels: str) -> float:
    """A sample's value from Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_friendly_route_single_and_batch(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        one = await client.post("/v1/credit", json={"x": 2})
        many = await client.post("/v1/credit", json=[{"x": 1}, {"x": 3}])
    assert one.status_code == 200
    assert one.json() == {"model_name": "credit", "model_version": "v1",
                          "prediction": {"double": 4, "version": "v1"},
                          "prediction_id": None}  # this service logs nothing
    assert many.json()["predictions"] == [{"double": 2, "version": "v1"},
                                          {"double": 6, "version": "v1"}]
    assert one.headers["x-request-id"]


async def test_v1_passthrough_forwards_request_id(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        response = await client.post("/v1/models/credit:predict",
                                     json={"instances": [{"x": 5}]},
                                     headers={"X-Request-ID": "req-123"})
    assert response.status_code == 200
    assert response.json()["predictions"] == [{"double": 10, "version": "v1"}]
    assert response.headers["x-request-id"] == "req-123"
    assert credit.request_ids == ["req-123"]


async def test_cache_hit_serves_without_upstream_and_batch_is_served_partly(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        await client.post("/v1/credit", json={"x": 1, "y": "a"})
        again = await client.post("/v1/credit", json={"y": "a", "x": 1})  # same, keys reordered
        assert again.json()["prediction"] == {"double": 2, "version": "v1"}
        assert credit.predict_calls == 1
        batch = await client.post("/v1/credit", json=[{"x": 1, "y": "a"}, {"x": 7}])
        assert batch.json()["predictions"] == [{"double": 2, "version": "v1"},
                                               {"double": 14, "version": "v1"}]
        assert credit.predict_calls == 2
        assert credit.instances_seen[-1] == {"x": 7}  # only the miss went upstream
        metrics = (await client.get("/metrics")).text
    assert counter(metrics, "finfleet_cache_requests_total", model="credit", result="hit") == 2
    assert counter(metrics, "finfleet_cache_requests_total", model="credit", result="miss") == 2
    assert counter(metrics, "finfleet_http_requests_total", service="gateway",
                   route="/v1/{name}", status="200") == 3


async def test_no_cache_header_bypasses_the_cache(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        await client.post("/v1/credit", json={"x": 1})
        await client.post("/v1/credit", json={"x": 1}, headers={"Cache-Control": "no-cache"})
    assert credit.predict_calls == 2


async def test_new_model_version_never_serves_old_cached_answers(make_settings, credit):
    app = build_app(make_settings())
    async with running_client(app) as client:
        await client.post("/v1/credit", json=[{"x": 1}, {"x": 2}])
        credit.version = "v2"
        # A miss reveals the new version: the cached instance in the same batch is fetched again.
        mixed = await client.post("/v1/credit", json=[{"x": 1}, {"x": 3}])
        assert mixed.json()["model_version"] == "v2"
        assert {p["version"] for p in mixed.json()["predictions"]} == {"v2"}
        credit.version = "v3"
        await app.state.versions.refresh()  # what the background poller does
        calls = credit.predict_calls
        fresh = await client.post("/v1/credit", json={"x": 2})
    assert credit.predict_calls == calls + 1
    assert fresh.json()["prediction"]["version"] == "v3"


async def test_models_with_ttl_zero_are_never_cached(make_settings, credit):
    settings = make_settings(cache_ttl={"credit": 0.0})
    async with running_client(build_app(settings)) as client:
        for _ in range(3):
            assert (await client.post("/v1/credit", json={"x": 1})).status_code == 200
    assert credit.predict_calls == 3


async def test_concurrent_identical_misses_make_one_upstream_call(make_settings, credit):
    credit.delay = 0.2
    async with running_client(build_app(make_settings())) as client:
        responses = await asyncio.gather(*(client.post("/v1/credit", json={"x": 9})
                                           for _ in range(20)))
        metrics = (await client.get("/metrics")).text
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["prediction"]["double"] for r in responses} == {18}
    assert credit.predict_calls == 1
    assert counter(metrics, "finfleet_cache_requests_total", model="credit",
                   result="coalesced") == 19


async def test_a_request_that_leaves_never_strands_the_ones_that_joined_it(make_settings,
                                                                           credit):
    """The first of two identical misses makes the upstream call; when it is cancelled (its
    client went away) the one waiting on it asks the upstream itself."""
    async with running_client(build_app(make_settings())) as client:
        await client.post("/v1/credit", json={"x": 1})  # the gateway learns the version
        credit.delay = 0.3
        leader = asyncio.create_task(client.post("/v1/credit", json={"x": 5}))
        await asyncio.sleep(0.1)
        joiner = asyncio.create_task(client.post("/v1/credit", json={"x": 5}))
        await asyncio.sleep(0.05)
        leader.cancel()
        response = await joiner
        again = await client.post("/v1/credit", json={"x": 5})
    assert leader.cancelled()
    assert response.status_code == 200 and response.json()["prediction"]["double"] == 10
    assert credit.predict_calls == 3  # warm-up, the abandoned call, then the joiner's own
    assert again.status_code == 200 and credit.predict_calls == 3  # and it was cached


async def test_upstream_4xx_is_passed_through_with_the_callers_indexes(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        await client.post("/v1/credit", json={"x": 1})  # cached, so only index 1 goes upstream
        response = await client.post("/v1/models/credit:predict",
                                     json={"instances": [{"x": 1}, {"x": "bad"}]})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"] == [{"field": "instances[1].x", "message": "must be a number",
                                          "type": "float"}]


async def test_a_refused_batch_does_not_fail_a_coalesced_request(make_settings, credit):
    credit.delay = 0.1
    async with running_client(build_app(make_settings())) as client:
        bad, good = await asyncio.gather(
            client.post("/v1/credit", json=[{"x": 4}, {"x": "bad"}]),
            client.post("/v1/credit", json={"x": 4}),
        )
    assert bad.status_code == 422
    assert good.status_code == 200 and good.json()["prediction"]["double"] == 8


async def test_upstream_5xx_and_timeout_become_502_and_504_naming_it(make_settings, credit):
    async with running_client(build_app(make_settings(read_timeouts={"credit": 0.2}))) as client:
        credit.fail_status = 500
        failed = await client.post("/v1/credit", json={"x": 1})
        credit.fail_status = None
        credit.delay = 0.5
        slow = await client.post("/v1/credit", json={"x": 2})
    assert failed.status_code == 502
    assert slow.status_code == 504
    for response in (failed, slow):
        body = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert "'credit'" in body["detail"]
        assert "127.0.0.1" not in response.text and "Traceback" not in response.text


async def test_dead_upstream_fails_fast_opens_circuit_and_spares_the_others(make_settings, credit):
    await credit.stop()
    settings = make_settings(circuit_failures=2, circuit_reset_seconds=60)
    async with running_client(build_app(settings)) as client:
        started = time.perf_counter()
        first = [await client.post("/v1/credit", json={"x": i}) for i in range(2)]
        opened = await client.post("/v1/credit", json={"x": 5})
        elapsed = time.perf_counter() - started
        other = await client.post("/v1/intent", json={"x": 1})
        metrics = (await client.get("/metrics")).text
    assert [r.status_code for r in first] == [503, 503]
    assert "not reachable" in first[0].json()["detail"]
    assert opened.status_code == 503 and "circuit is open" in opened.json()["detail"]
    assert int(opened.headers["retry-after"]) >= 1
    assert other.status_code == 200
    assert counter(metrics, "finfleet_circuit_state", upstream="credit") == 2
    assert counter(metrics, "finfleet_upstream_requests_total", upstream="credit",
                   outcome="circuit_open") == 1
    print(f"three calls to a dead upstream took {elapsed * 1000:.1f} ms")


async def test_fan_out_answers_partially_when_a_part_is_down(make_settings, intent):
    async with running_client(build_app(make_settings())) as client:
        message = await client.post("/v1/analyze/message", json={"text": "pay rent"})
        bad = await client.post("/v1/analyze/message", json={"text": ""})
        transaction = await client.post("/v1/analyze/transaction", json=TRANSACTION)
        no_description = await client.post("/v1/analyze/transaction",
                                           json={"user_id": "u1", "transaction": {"amount": 5}})
    assert message.status_code == 200
    body = message.json()
    assert body["partial"] is True
    assert body["intent"]["status"] == 200 and body["intent"]["model_name"] == "intent"
    assert intent.instances_seen == [{"text": "pay rent"}]
    assert body["entities"]["status"] == 503
    assert "'ner'" in body["entities"]["error"]["detail"]
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "text"
    assert transaction.status_code == 503  # anomaly and ner are both down
    assert {e["field"] for e in transaction.json()["errors"]} == {"anomaly", "entities"}
    assert no_description.status_code == 422
    assert no_description.json()["errors"][0]["field"] == "transaction.description"


async def test_transaction_fan_out_sends_the_instance_as_given(make_settings):
    anomaly = await FakeModelService("anomaly").start()
    try:
        settings = make_settings(upstreams={"anomaly": anomaly.url, "ner": closed_port_url()})
        async with running_client(build_app(settings)) as client:
            response = await client.post("/v1/analyze/transaction", json=TRANSACTION)
    finally:
        await anomaly.stop()
    body = response.json()
    assert response.status_code == 200 and body["partial"] is True
    assert anomaly.instances_seen == [TRANSACTION]
    assert body["anomaly"]["prediction"]["echo"] == TRANSACTION
    assert body["entities"]["status"] == 503


async def test_models_list_reports_version_and_readiness(make_settings):
    async with running_client(build_app(make_settings())) as client:
        models = {m["name"]: m for m in (await client.get("/v1/models")).json()["models"]}
    assert models["credit"]["ready"] is True and models["credit"]["version"] == "v1"
    assert models["ner"]["ready"] is False and models["ner"]["reason"] == "not reachable"


async def test_bad_requests_get_problem_json_naming_the_field(make_settings):
    settings = make_settings(max_body_bytes=200, max_instances=2)
    async with running_client(build_app(settings)) as client:
        unknown = await client.post("/v1/nosuch", json={"x": 1})
        not_json = await client.post("/v1/credit", content=b"{nope")
        empty = await client.post("/v1/models/credit:predict", json={"instances": []})
        too_many = await client.post("/v1/credit", json=[{"x": 1}] * 3)
        too_big = await client.post("/v1/credit", json={"x": "a" * 500})
    assert unknown.status_code == 404 and "credit" in unknown.json()["detail"]
    assert not_json.status_code == 400
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "instances"
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "body"
    assert too_big.status_code == 413


async def test_api_keys_are_required_when_configured(make_settings):
    settings = make_settings(api_key_sha256=[hash_key("s3cret")])
    async with running_client(build_app(settings)) as client:
        missing = await client.post("/v1/credit", json={"x": 1})
        wrong = await client.post("/v1/credit", json={"x": 1}, headers={"X-API-Key": "nope"})
        bearer = await client.post("/v1/credit", json={"x": 1},
                                   headers={"Authorization": "Bearer s3cret"})
        header = await client.get("/v1/models", headers={"X-API-Key": "s3cret"})
        probe = await client.get("/health/ready")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert bearer.status_code == 200 and header.status_code == 200
    assert probe.status_code == 200


async def test_every_route_but_the_public_ones_refuses_a_missing_key(make_settings):
    """Walks the app's routes, so a route added later without a guard fails here."""
    app = build_app(make_settings(api_key_sha256=[hash_key("s3cret")]))
    routes = [(method, re.sub(r"\{(\w+)(:\w+)?\}", "credit", path))
              for method, path in every_route(app)]
    assert {("POST", "/v1/models/credit:predict"), ("POST", "/v1/credit"), ("GET", "/v1/models"),
            ("POST", "/v1/analyze/message")} <= set(routes)
    async with running_client(app) as client:
        for method, path in routes:
            response = await client.request(method, path, json={"x": 1})
            if is_public(path):  # the probes, docs and the console's pages
                assert response.status_code != 401, (method, path)
                continue
            closed = 403 if path.startswith("/admin/") else 401  # no admin keys: closed
            assert response.status_code == closed, (method, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_admin_routes_take_an_admin_key_and_never_a_callers_key(make_settings):
    app = build_app(make_settings(api_key_sha256=[hash_key("caller")],
                                  admin_key_sha256=[hash_key("operator")]))
    admin_routes = [(m, re.sub(r"\{(\w+)(:\w+)?\}", "credit", p)) for m, p in every_route(app)
                    if p.startswith("/admin/")]
    assert ("POST", "/admin/models/credit/promote") in admin_routes
    async with running_client(app) as client:
        for method, path in admin_routes:
            for key in (None, "caller", "wrong"):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                response = await client.request(method, path, json={}, headers=headers)
                assert response.status_code == 401, (method, path, key)
        # the caller's key still works where it belongs
        assert (await client.get("/v1/models", headers={"X-API-Key": "caller"})
                ).status_code == 200


async def test_rate_limit_answers_429_with_retry_after(make_settings):
    settings = make_settings(rate_limit_per_second=1, rate_limit_burst=2)
    async with running_client(build_app(settings)) as client:
        statuses = [(await client.post("/v1/credit", json={"x": 1})).status_code
                    for _ in range(3)]
        limited = await client.post("/v1/credit", json={"x": 1})
    assert statuses == [200, 200, 429]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"


async def test_cors_allows_only_configured_origins(make_settings):
    settings = make_settings(cors_origins=["https://app.example"])
    async with running_client(build_app(settings)) as client:
        allowed = await client.options("/v1/credit", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        other = await client.options("/v1/credit", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        posted = await client.post("/v1/credit", json={"x": 1},  # the hot path keeps CORS
                                   headers={"Origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers
    assert posted.status_code == 200
    assert posted.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in posted.headers.get("access-control-expose-headers", "").lower()


async def test_ready_waits_for_required_upstreams(make_settings):
    async with running_client(build_app(make_settings(required_upstreams=["credit"]))) as c:
        assert (await c.get("/health/ready")).status_code == 200
    app = build_app(make_settings(required_upstreams=["credit", "ner"]))
    async with running_client(app, wait_ready=False) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503 and "ner" in response.json()["reason"]


async def test_openapi_documents_every_route_and_each_models_own_schema(make_settings):
    """The hot routes are outside FastAPI's router: each model gets concrete paths, with the
    schemas its service describes and the table's example; every $ref resolves."""
    app = build_app(make_settings())
    async with running_client(app) as client:
        await app.state.versions.refresh()
        spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for name in ("credit", "intent", "ner", "anomaly"):
        assert f"/v1/{name}" in paths and f"/v1/models/{name}:predict" in paths
    for method, path in every_route(app):
        if "{name}" not in path and path not in ("/openapi.json", "/docs"):
            assert method.lower() in paths.get(path, {}), f"{method} {path} undocumented"
    v1 = paths["/v1/models/credit:predict"]["post"]
    items = v1["requestBody"]["content"]["application/json"]["schema"]["properties"][
        "instances"]["items"]
    assert items == FAKE_INPUT_SCHEMA, "the instance schema is the service's own"
    friendly = paths["/v1/credit"]["post"]
    assert friendly["requestBody"]["content"]["application/json"]["example"]["age"] == 35
    assert {"401", "422", "429", "503"} <= set(friendly["responses"])
    down = paths["/v1/ner"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert down["oneOf"][0]["type"] == "object", "a model not yet seen is any object"
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec))
    assert set(refs) <= set(spec["components"]["schemas"])
