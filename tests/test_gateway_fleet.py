"""The gateway as a process in front of the real credit service, with a real redis-server:
cache hit/miss and version change, coalescing, Redis killed, upstream killed, partial fan-out."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from kit.registry import FileRegistry

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration

APPLICANT = procs.APPLICANT


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def gateway_env(credit_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    upstreams = {name: f"http://127.0.0.1:{procs.free_port()}"
                 for name in ("intent", "ner", "spending", "anomaly")}
    upstreams["credit"] = credit_url
    env = {"GATEWAY_UPSTREAMS": json.dumps(upstreams), "GATEWAY_VERSION_REFRESH_SECONDS": "0.3"}
    if redis_url:
        env["GATEWAY_REDIS_URL"] = redis_url
    return {**env, **extra}


@pytest.fixture(scope="module")
def credit_models(tmp_path_factory):
    return procs.trained_credit_dir(tmp_path_factory)


@pytest.fixture
def fleet(tmp_path, credit_models):
    """redis + credit + gateway, started fresh for each test (tests kill parts of it)."""
    started: dict[str, procs.Proc] = {}
    try:
        started["redis"] = procs.start_redis(tmp_path)
        started["credit"] = procs.start_credit(credit_models, tmp_path)
        started["gateway"] = procs.start_gateway(
            gateway_env(started["credit"].url, started["redis"].url,
                        GATEWAY_CIRCUIT_FAILURES="2", GATEWAY_CIRCUIT_RESET_SECONDS="30"),
            tmp_path)
        yield started
    finally:
        for proc in reversed(list(started.values())):
            proc.stop()


def post_credit(gateway: procs.Proc, instance: dict, **headers: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/credit", json=instance, headers=headers, timeout=10)


def test_cache_miss_then_hit_in_redis_matches_the_direct_answer(fleet):
    gateway, credit = fleet["gateway"], fleet["credit"]
    direct = httpx.post(f"{credit.url}/v1/models/credit:predict",
                        json={"instances": [APPLICANT]}, timeout=10).json()
    first = post_credit(gateway, APPLICANT)
    second = post_credit(gateway, dict(reversed(APPLICANT.items())))
    assert first.status_code == second.status_code == 200
    assert first.json()["prediction"] == direct["predictions"][0]
    first_body, second_body = first.json(), second.json()
    assert first_body.pop("prediction_id")
    assert second_body.pop("prediction_id") is None  # the hit never reached the service
    assert second_body == first_body
    assert first.json()["model_version"] == direct["model_version"]
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert metric(metrics, "finfleet_cache_requests_total", model="credit", result="miss") == 1
    assert metric(metrics, "finfleet_cache_requests_total", model="credit", result="hit") == 1
    import redis

    keys = redis.Redis.from_url(fleet["redis"].url).keys("finfleet:gw:credit:*")
    assert len(keys) == 1 and direct["model_version"].encode() in keys[0]


def test_bad_input_is_the_credit_services_422_unchanged(fleet):
    response = post_credit(fleet["gateway"], {**APPLICANT, "age": "old"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["field"].startswith("instances[0].age") for e in response.json()["errors"])


def test_identical_concurrent_misses_reach_credit_once(fleet):
    gateway, credit = fleet["gateway"], fleet["credit"]
    instance = {**APPLICANT, "income": 123456}

    def predicted() -> float:
        return metric(httpx.get(f"{credit.url}/metrics").text, "finfleet_predictions_total",
                      outcome="ok")

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            return await asyncio.gather(*(client.post("/v1/credit", json=instance)
                                          for _ in range(16)))

    before = predicted()
    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {200}
    bodies = [r.json() for r in responses]
    ids = {body.pop("prediction_id") for body in bodies}
    assert len({json.dumps(body, sort_keys=True) for body in bodies}) == 1
    assert len(ids - {None}) == 1  # one upstream call, one log record (hits have none)
    assert predicted() - before == 1


def test_new_model_version_is_learned_and_old_answers_are_not_served(fleet, credit_models):
    """Production moves in the registry: the running service swaps (no restart) and the
    gateway's cache serves nothing of the old version afterwards."""
    gateway = fleet["gateway"]
    old = post_credit(gateway, APPLICANT).json()["model_version"]
    procs.copy_as_new_version(credit_models, "credit", "29991231-235959")
    registry = FileRegistry(credit_models, "credit")
    registry.set_alias("production", "29991231-235959", actor="test", reason="new version")
    try:
        deadline = time.monotonic() + 10
        answer = post_credit(gateway, APPLICANT).json()
        while answer["model_version"] == old and time.monotonic() < deadline:
            time.sleep(0.2)
            answer = post_credit(gateway, APPLICANT).json()
    finally:
        import shutil

        registry.set_alias("production", old, actor="test", reason="restore")
        shutil.rmtree(credit_models / "credit" / "29991231-235959", ignore_errors=True)
    assert old != "29991231-235959"
    assert answer["model_version"] == "29991231-235959"
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert metric(metrics, "finfleet_cache_requests_total", model="credit", result="miss") == 2


def test_redis_killed_mid_test_degrades_to_no_cache(fleet):
    gateway = fleet["gateway"]
    assert post_credit(gateway, APPLICANT).status_code == 200
    fleet["redis"].stop()
    responses = [post_credit(gateway, {**APPLICANT, "age": 30 + i}) for i in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert post_credit(gateway, APPLICANT).status_code == 200
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert metric(metrics, "finfleet_cache_requests_total", model="credit", result="error") >= 1


def test_killed_upstream_fails_fast_and_its_circuit_opens(fleet):
    gateway = fleet["gateway"]
    assert post_credit(gateway, APPLICANT).status_code == 200
    fleet["credit"].stop()
    started = time.perf_counter()
    down = [post_credit(gateway, {**APPLICANT, "age": 40 + i}) for i in range(3)]
    elapsed = time.perf_counter() - started
    assert [r.status_code for r in down] == [503, 503, 503]
    assert "'credit'" in down[0].json()["detail"] and "circuit is open" in down[2].json()["detail"]
    assert elapsed < 5, "a dead upstream must fail fast, not wait for timeouts"
    assert post_credit(gateway, APPLICANT).status_code == 200  # cached answers still served
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert metric(metrics, "finfleet_circuit_state", upstream="credit") == 2
    models = {m["name"]: m for m in httpx.get(f"{gateway.url}/v1/models").json()["models"]}
    assert models["credit"]["ready"] is False and models["credit"]["circuit"] == "open"


def test_fan_out_answers_partially_with_503_naming_the_missing_service(tmp_path, credit_models):
    echo_intent = procs.start_echo("intent", tmp_path / "echo-models", tmp_path)
    gateway = None
    try:
        env = gateway_env("http://127.0.0.1:1", None)
        upstreams = json.loads(env["GATEWAY_UPSTREAMS"])
        upstreams["intent"] = echo_intent.url
        env["GATEWAY_UPSTREAMS"] = json.dumps(upstreams)
        gateway = procs.start_gateway(env, tmp_path)
        response = httpx.post(f"{gateway.url}/v1/analyze/message",
                              json={"text": "paid 500 to Swiggy"}, timeout=10)
    finally:
        for proc in (gateway, echo_intent):
            if proc:
                proc.stop()
    body = response.json()
    assert response.status_code == 200 and body["partial"] is True
    assert body["intent"]["prediction"] == {"echo": {"text": "paid 500 to Swiggy"}}
    assert body["entities"]["status"] == 503
    assert body["entities"]["error"]["detail"] == "upstream 'ner' is not reachable"
