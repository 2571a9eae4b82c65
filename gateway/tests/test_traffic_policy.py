"""Canary and shadow in the gateway against fake services: stickiness, the candidate's own
circuit with production answering, shadow copies flagged and bounded."""

from __future__ import annotations

import asyncio

import pytest

from gateway.app import build_app
from gateway.routing import _with_copies
from gateway.traffic import ShadowCall, ShadowQueue, TrafficPolicy, bucket, sticky_key
from kit.testing import running_client


def test_buckets_are_stable_and_spread():
    assert bucket("credit", "key:abc") == bucket("credit", "key:abc")
    points = [bucket("credit", f"key:{i}") for i in range(4000)]
    assert all(0 <= p < 100 for p in points)
    assert 0.08 < sum(p < 10 for p in points) / len(points) < 0.12


def test_the_sticky_key_is_the_common_user_else_the_caller():
    assert sticky_key([{"user_id": "u1"}, {"user_id": "u1"}], "ip:1") == "user:u1"
    assert sticky_key([{"user_id": "u1"}, {"user_id": "u2"}], "ip:1") == "ip:1"
    assert sticky_key([{"x": 1}], "key:k") == "key:k"


def test_a_shadow_takes_the_ids_production_assigned():
    assert _with_copies({"amount": 1}, {"transaction_id": "t1", "score": 0.2},
                        ("transaction_id",)) == {"amount": 1, "transaction_id": "t1"}
    assert _with_copies({"transaction_id": "mine"}, {"transaction_id": "t1"},
                        ("transaction_id",)) == {"transaction_id": "mine"}


async def test_a_full_shadow_queue_drops_and_counts_never_waits():
    release = asyncio.Event()
    dropped: list[str] = []

    async def send(call):
        await release.wait()

    queue = ShadowQueue(send, maxsize=2, workers=1, logger=None, on_drop=dropped.append)
    queue.start()
    call = ShadowCall("credit", "v2", [{}], [{}], 0.001, None, 0.0)
    offered = [queue.offer(call) for _ in range(6)]
    await asyncio.sleep(0)
    assert offered[:2] == [True, True] and dropped  # one in flight, two queued, rest dropped
    release.set()
    await queue.stop()


def test_policies_are_validated():
    with pytest.raises(ValueError):
        TrafficPolicy(canary_percent=101)


async def _until(predicate, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


async def compared(client, pairs: int) -> bool:
    report = (await client.get("/v1/models/credit/traffic")).json()
    return report["comparison"]["pairs"]["all_time"] >= pairs


async def test_a_failing_candidate_opens_its_own_circuit_and_production_answers(
        credit, make_settings):
    credit.candidate = "v2"
    credit.candidate_fail_status = 500
    settings = make_settings(traffic={"credit": {"canary_percent": 100}},
                             circuit_failures=2, version_refresh_seconds=0.05)
    async with running_client(build_app(settings)) as client:
        async def knows_candidate():
            models = (await client.get("/v1/models")).json()["models"]
            return next(m for m in models if m["name"] == "credit")["traffic"][
                "candidate_version"] == "v2"

        await _until(knows_candidate)
        answers = [await client.post("/v1/credit", json={"x": i}) for i in range(5)]
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["model_version"] for a in answers} == {"v1"}
        metrics = (await client.get("/metrics")).text
    assert len(credit.candidate_calls) == 2  # then its circuit is open
    assert 'finfleet_circuit_state{upstream="credit:candidate"} 2.0' in metrics
    assert 'finfleet_circuit_state{upstream="credit"} 0.0' in metrics
    assert 'finfleet_canary_requests_total{model="credit",outcome="fallback"} 5.0' in metrics


async def test_a_canaried_caller_gets_the_candidate_cached_under_its_version(
        credit, make_settings):
    credit.candidate = "v2"
    settings = make_settings(traffic={"credit": {"canary_percent": 100}},
                             version_refresh_seconds=0.05)
    async with running_client(build_app(settings)) as client:
        async def answered_by_candidate():
            answer = await client.post("/v1/credit", json={"x": 1})
            return answer.json()["model_version"] == "v2"

        await _until(answered_by_candidate)
        calls = len(credit.candidate_calls)
        again = (await client.post("/v1/credit", json={"x": 1})).json()
        assert again["model_version"] == "v2" and again["prediction"]["double"] == 3
        assert len(credit.candidate_calls) == calls  # served from the candidate's cache
        fresh = (await client.post("/v1/credit", json={"x": 1},
                                   headers={"Cache-Control": "no-cache"})).json()
        assert fresh["model_version"] == "v2"


async def test_shadow_copies_are_flagged_and_leave_the_callers_answer_alone(
        credit, make_settings):
    credit.candidate = "v2"
    settings = make_settings(traffic={"credit": {"shadow_percent": 100}},
                             version_refresh_seconds=0.05)
    async with running_client(build_app(settings)) as client:
        async def knows_candidate():
            traffic = (await client.get("/v1/models/credit/traffic")).json()
            return traffic["policy"]["candidate_version"] == "v2"

        await _until(knows_candidate)
        answers = [(await client.post("/v1/credit", json={"x": i})).json() for i in range(4)]
        assert {a["model_version"] for a in answers} == {"v1"}

        async def all_shadowed():  # copies queued together go in one call
            return sum(len(c["instances"]) for c in credit.candidate_calls) >= 4

        await _until(all_shadowed)
        assert {c["shadow"] for c in credit.candidate_calls} == {"1"}
        await _until(lambda: compared(client, 4))  # once the gateway has the answers


async def test_a_candidate_on_replicas_of_its_own_takes_the_canary(credit, make_settings):
    from gateway.tests.fakes import FakeModelService

    own = await FakeModelService("credit", version="v2").start()
    own.candidate = "v2"  # it serves v2 as its production: the version route answers it
    try:
        settings = make_settings(traffic={"credit": {"canary_percent": 100}},
                                 candidate_upstreams={"credit": own.url},
                                 version_refresh_seconds=0.05)
        async with running_client(build_app(settings)) as client:
            async def answered_by_own_replicas():
                answer = await client.post("/v1/credit", json={"x": 5},
                                           headers={"Cache-Control": "no-cache"})
                return answer.json()["model_version"] == "v2"

            await _until(answered_by_own_replicas)
            before = credit.predict_calls
            for i in range(3):
                assert (await client.post("/v1/credit", json={"x": 10 + i})).json()[
                    "model_version"] == "v2"
        assert credit.predict_calls == before  # production's replicas did none of it
        assert len(own.candidate_calls) >= 3
    finally:
        await own.stop()


async def test_queued_copies_go_to_the_candidate_together_per_model_and_version():
    sent: list[list[tuple[str, int]]] = []

    async def send(calls):
        sent.append([(c.model, len(c.instances)) for c in calls])

    queue = ShadowQueue(send, maxsize=10, workers=1, logger=None, on_drop=print, batch_max=3)
    for model, n in [("credit", 1), ("credit", 2), ("credit", 1), ("intent", 1)]:
        queue.offer(ShadowCall(model, "v2", [{}] * n, [{}] * n, 0.001, None, 0.0))
    queue.start()
    for _ in range(50):
        if sum(len(b) for b in sent) == 4:
            break
        await asyncio.sleep(0.01)
    await queue.stop()
    # at most 3 instances a call, one model a call, in the order they came
    assert sent == [[("credit", 1), ("credit", 2)], [("credit", 1)], [("intent", 1)]]
    assert queue.stats()["queued"] == 0


@pytest.mark.parametrize("remember_max", [20_000, 0])
async def test_a_cached_answers_shadow_is_counted_from_its_first_comparison(
        credit, make_settings, remember_max):
    credit.candidate = "v2"
    settings = make_settings(traffic={"credit": {"shadow_percent": 100}},
                             version_refresh_seconds=0.05, shadow_remember_max=remember_max)
    app = build_app(settings)
    async with running_client(app) as client:
        async def knows_candidate():
            traffic = (await client.get("/v1/models/credit/traffic")).json()
            return traffic["policy"]["candidate_version"] == "v2"

        await _until(knows_candidate)
        await client.post("/v1/credit", json={"x": 1})  # a miss: sent and compared

        async def shadowed(n):  # instances the candidate was sent (copies may be batched)
            return sum(len(c["instances"]) for c in credit.candidate_calls) >= n

        await _until(lambda: compared(client, 1))
        for _ in range(3):  # cache hits of the same instance
            assert (await client.post("/v1/credit", json={"x": 1})).json()["model_version"] == "v1"
        if remember_max:
            await asyncio.sleep(0.1)
            assert not await shadowed(2)  # not sent again
        else:
            await _until(lambda: shadowed(4))  # remembering off: every copy is sent
            await _until(lambda: compared(client, 4))
        report = (await client.get("/v1/models/credit/traffic")).json()
        metrics = (await client.get("/metrics")).text
    assert report["comparison"]["pairs"]["all_time"] == 4
    # the fake's answers have none of credit's declared values: each pair counts incomparable
    assert report["comparison"]["measures"]["pd"]["all_time"]["incomparable"] == 4
    remembered = 'finfleet_shadow_requests_total{model="credit",outcome="remembered"} 3.0'
    assert (remembered in metrics) == bool(remember_max)


async def test_a_trickle_of_copies_waits_to_go_together_and_a_backlog_does_not():
    sent: list[list[int]] = []

    async def send(calls):
        sent.append([len(c.instances) for c in calls])

    def copy(model: str = "credit") -> ShadowCall:
        return ShadowCall(model, "v2", [{}], [{}], 0.001, None, 0.0)

    queue = ShadowQueue(send, maxsize=10, workers=2, logger=None, on_drop=print, batch_max=32,
                        batch_wait_s=0.2)
    queue.start()
    queue.offer(copy())
    await asyncio.sleep(0.05)  # the first copy's gatherer is waiting for more
    queue.offer(copy())
    queue.offer(copy())
    await _until(lambda: _sent(sent, 3))
    assert sent == [[1, 1, 1]]  # one call for the three
    # copies of two models interleaved: each batch stops at the other model's copy, and none
    # of them waits (the queue is not empty), so they go at once
    for model in ["credit", "intent"] * 3:
        queue.offer(copy(model))
    await _until(lambda: _sent(sent, 9), seconds=0.8)  # waiting each time: 6 × 0.2 s
    await queue.stop()


async def _sent(sent: list[list[int]], n: int) -> bool:
    return sum(map(sum, sent)) >= n
