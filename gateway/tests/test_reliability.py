"""Regressions of the gateway defects found by fuzzing and fault runs (issue 17): each input
that answered 500, a circuit stuck half-open, a fan-out that called the caller's mistake a
partial success, and the loose edges of the HTTP contract."""

from __future__ import annotations

import asyncio

import pytest

from gateway.app import build_app
from gateway.auth import hash_key
from gateway.circuit import CLOSED, HALF_OPEN
from gateway.ratelimit import MemoryBuckets
from kit.testing import running_client

DEEP = "[" * 300 + "]" * 300


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/credit", DEEP),
    ("/v1/credit", '{"x": ' + DEEP + "}"),
    ("/v1/models/credit:predict", '{"instances": ' + DEEP + "}"),
    ("/v1/models/credit:predict", '{"instances": [{"x": ' + DEEP + "}]}"),
    ("/v1/analyze/transaction",
     '{"user_id": "u", "transaction": {"description": "d", "x": ' + DEEP + "}}"),
    ("/v1/analyze/message", '{"text": "hi", "x": ' + DEEP + "}"),
])
async def test_deeply_nested_json_is_a_422_naming_the_body(make_settings, path, body):
    async with running_client(build_app(make_settings())) as client:
        response = await client.post(path, content=body,
                                     headers={"content-type": "application/json"})
    problem = assert_problem(response, 422)
    assert problem["errors"][0] == {"field": "body", "message": "at most 32 levels of nesting",
                                    "type": "too_deep"}


async def test_nesting_within_the_limit_still_reaches_the_model(make_settings, credit):
    nested = {"x": 1, "deep": [[[[[[1]]]]]]}
    async with running_client(build_app(make_settings())) as client:
        response = await client.post("/v1/credit", json=nested)
    assert response.status_code == 200 and credit.instances_seen == [nested]


async def test_a_probe_that_ends_without_a_verdict_frees_the_half_open_slot(make_settings):
    """A half-open probe that raised before any answer used to hold the slot forever: every
    later call was refused while the model was healthy."""
    app = build_app(make_settings(circuit_failures=1, circuit_reset_seconds=0.001))
    async with running_client(app) as client:
        upstream = app.state.pool.get("credit")
        upstream.breaker.record_failure()  # open; the 1 ms reset lets the next call probe
        await asyncio.sleep(0.01)
        real_post = upstream._post

        async def broken(*args, **kwargs):
            raise RuntimeError("a bug of ours, before anything was sent")

        upstream._post = broken
        with pytest.raises(RuntimeError):
            await upstream.predict([{"x": 1}])
        assert upstream.breaker.state == HALF_OPEN and not upstream.breaker.probe_in_flight
        upstream._post = real_post
        response = await client.post("/v1/credit", json={"x": 2}, headers={"cache-control":
                                                                            "no-cache"})
    assert response.status_code == 200
    assert upstream.breaker.state == CLOSED


async def test_the_callers_invalid_input_never_opens_a_circuit(make_settings):
    app = build_app(make_settings(circuit_failures=2))
    async with running_client(app) as client:
        for _ in range(5):
            bad = await client.post("/v1/credit", json={"x": "not a number"})
            assert bad.status_code == 422
        good = await client.post("/v1/credit", json={"x": 3})
    assert good.status_code == 200
    assert app.state.pool.get("credit").breaker.state == CLOSED


async def test_a_fan_out_refused_for_the_callers_input_is_a_422_not_a_partial_answer(
        make_settings, ner, anomaly):
    settings = make_settings(upstreams={"ner": ner.url, "anomaly": anomaly.url,
                                        "intent": ner.url, "credit": ner.url})
    body = {"user_id": "u", "x": "bad", "transaction": {"description": "Swiggy ₹450"}}
    async with running_client(build_app(settings)) as client:
        response = await client.post("/v1/analyze/transaction", json=body)
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["anomaly: x"]


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"])
async def test_a_body_declared_as_anything_but_json_is_a_415(make_settings, content_type):
    async with running_client(build_app(make_settings())) as client:
        response = await client.post("/v1/credit", content=b'{"x": 1}',
                                     headers={"content-type": content_type})
    assert_problem(response, 415)


async def test_json_media_types_and_a_missing_type_are_read(make_settings):
    async with running_client(build_app(make_settings())) as client:
        for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
            response = await client.post("/v1/credit", content=b'{"x": 1}',
                                         headers={"content-type": content_type})
            assert response.status_code == 200, content_type


async def test_a_trailing_slash_is_a_404_problem_not_a_redirect(make_settings):
    async with running_client(build_app(make_settings())) as client:
        response = await client.get("/v1/models/", headers={"host": "evil.example"})
    assert_problem(response, 404)
    assert "location" not in response.headers


def test_rate_limit_buckets_are_bounded_whatever_the_number_of_callers():
    buckets = MemoryBuckets(rate=1.0, burst=2, max_buckets=100)
    for n in range(1_000):
        assert buckets.take(f"ip:10.0.{n // 256}.{n % 256}") == 0.0
    assert len(buckets) == 100
    assert buckets.take("ip:10.0.3.231") == 0.0  # recent: its bucket is kept (one token left)
    assert buckets.take("ip:10.0.3.231") > 0


async def test_requests_with_a_wrong_key_are_rate_limited_too(make_settings):
    settings = make_settings(api_key_sha256=[hash_key("s3cret")], rate_limit_per_second=1,
                             rate_limit_burst=2)
    async with running_client(build_app(settings)) as client:
        statuses = [(await client.post("/v1/credit", json={"x": 1},
                                       headers={"X-API-Key": f"guess-{n}"})).status_code
                    for n in range(3)]
    assert statuses == [401, 401, 429]
