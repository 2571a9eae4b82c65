"""`finfleet.client` (sync and async) against a real gateway in front of the real credit service:
typed answers, batches, problem+json errors as exceptions, API keys, retries only when no answer
came back."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from finfleet import (
    Answer,
    AsyncClient,
    Client,
    ConnectionFailed,
    FanoutAnswer,
    InvalidInput,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from gateway.auth import hash_key
from services.credit.schema import CreditPrediction
from services.intent.schema import IntentPrediction

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration

APPLICANT = procs.APPLICANT
KEY = "client-test-key"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """credit + a gateway with API keys on; the other models' upstreams are closed ports."""
    log_dir = tmp_path_factory.mktemp("client")
    model_dir = procs.trained_credit_dir(tmp_path_factory)
    started: list[procs.Proc] = []
    try:
        credit = procs.start_credit(model_dir, log_dir)
        started.append(credit)
        started.append(procs.start_gateway(
            {"GATEWAY_UPSTREAMS": json.dumps(procs.upstreams_with(credit=credit.url)),
             "GATEWAY_API_KEY_SHA256": json.dumps([hash_key(KEY)])}, log_dir))
        yield started[-1]
    finally:
        for proc in reversed(started):
            proc.stop()


class Counter:
    """Counts the requests a client sends (every attempt) and the responses it gets."""

    def __init__(self) -> None:
        self.requests = 0
        self.responses = 0

    def hooks(self) -> dict:
        def request(_):
            self.requests += 1

        def response(_):
            self.responses += 1
        return {"request": [request], "response": [response]}

    def async_hooks(self) -> dict:
        async def request(_):
            self.requests += 1

        async def response(_):
            self.responses += 1
        return {"request": [request], "response": [response]}


def check_one(answer: Answer) -> None:
    assert answer.model == "credit"
    assert answer.model_version
    assert isinstance(answer.prediction, CreditPrediction)
    assert 0 <= answer.prediction.probability_of_default <= 1
    assert answer.prediction.band in ("low", "medium", "high")
    assert answer.prediction.reasons


def test_sync_one_prediction_and_a_batch_are_typed(gateway):
    with Client(gateway.url, api_key=KEY) as fleet:
        one = fleet.predict("credit", APPLICANT)
        check_one(one)
        batch = fleet.predict("credit", [APPLICANT, {**APPLICANT, "income": 30000}])
        assert len(batch.predictions) == 2
        assert all(isinstance(p, CreditPrediction) for p in batch.predictions)
        assert batch.predictions[0] == one.prediction
        assert batch.model_version == one.model_version
        models = {m["name"]: m for m in fleet.models()}
        assert models["credit"]["ready"] is True
        report = fleet.traffic("credit")
        assert report["model"] == "credit"


def test_async_one_prediction_and_a_batch_are_typed(gateway):
    async def main():
        async with AsyncClient(gateway.url, api_key=KEY) as fleet:
            one, batch = await asyncio.gather(
                fleet.predict("credit", APPLICANT),
                fleet.predict("credit", [APPLICANT, APPLICANT]))
            models = await fleet.models()
            report = await fleet.traffic("credit")
        return one, batch, models, report

    one, batch, models, report = asyncio.run(main())
    check_one(one)
    assert batch.predictions == [one.prediction, one.prediction]
    assert "credit" in {m["name"] for m in models}
    assert report["model"] == "credit"


def test_invalid_input_raises_with_the_fields_and_is_not_retried(gateway):
    counter = Counter()
    fleet = Client(gateway.url, api_key=KEY, event_hooks=counter.hooks())
    with fleet, pytest.raises(InvalidInput) as caught:
        fleet.predict("credit", {**APPLICANT, "age": "old"})
    error = caught.value
    assert error.status == 422
    assert error.title and error.detail and error.type
    assert any(f.startswith("instances[0].age") for f in error.fields)
    assert all({"field", "message", "type"} <= set(e) for e in error.errors)
    assert counter.requests == counter.responses == 1


def test_async_invalid_input_raises_too(gateway):
    async def main():
        async with AsyncClient(gateway.url, api_key=KEY) as fleet:
            await fleet.predict("credit", [APPLICANT, {**APPLICANT, "age": "old"}])

    with pytest.raises(InvalidInput) as caught:
        asyncio.run(main())
    assert any(f.startswith("instances[1].age") for f in caught.value.fields)


def test_missing_or_wrong_key_is_unauthorized(gateway):
    for key in (None, "wrong"):
        with Client(gateway.url, api_key=key) as fleet, pytest.raises(Unauthorized) as caught:
            fleet.predict("credit", APPLICANT)
        assert caught.value.status == 401
        assert caught.value.detail

    async def main():
        async with AsyncClient(gateway.url, api_key="wrong") as fleet:
            await fleet.models()

    with pytest.raises(Unauthorized):
        asyncio.run(main())


def test_an_unreachable_model_is_unavailable_and_not_retried(gateway):
    counter = Counter()
    fleet = Client(gateway.url, api_key=KEY, retries=3, event_hooks=counter.hooks())
    with fleet, pytest.raises(Unavailable) as caught:
        fleet.predict("intent", {"text": "hello"})
    assert caught.value.status == 503
    assert caught.value.request_id
    assert counter.requests == counter.responses == 1


def test_a_closed_port_is_tried_retries_plus_one_times():
    port = procs.free_port()
    counter = Counter()
    fleet = Client(f"http://127.0.0.1:{port}", retries=2, timeout=2, event_hooks=counter.hooks())
    with fleet, pytest.raises(ConnectionFailed) as caught:
        fleet.models()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert (counter.requests, counter.responses) == (3, 0)

    counter = Counter()

    async def main():
        async with AsyncClient(f"http://127.0.0.1:{port}", retries=1, timeout=2,
                               event_hooks=counter.async_hooks()) as fleet:
            await fleet.predict("credit", APPLICANT)

    with pytest.raises(ConnectionFailed):
        asyncio.run(main())
    assert (counter.requests, counter.responses) == (2, 0)


def test_untyped_models_plain_bodies_and_rate_limits_without_a_gateway():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/toy":
            return httpx.Response(200, json={"model_name": "toy", "model_version": "v1",
                                             "prediction": {"x": 1}})
        if request.url.path == "/v1/busy":
            return httpx.Response(429, headers={"retry-after": "2"}, json={
                "type": "https://finfleet.dev/problems/rate-limited", "title": "Too Many Requests",
                "status": 429, "detail": "slow down", "request_id": "r1"})
        return httpx.Response(502, text="Bad Gateway from a proxy")

    with Client(transport=httpx.MockTransport(answer)) as fleet:
        toy = fleet.predict("toy", {"x": 1})
        assert toy.prediction == {"x": 1} and toy.model_version == "v1"
        with pytest.raises(RateLimited) as limited:
            fleet.predict("busy", {})
        assert (limited.value.retry_after, limited.value.request_id) == (2.0, "r1")
        with pytest.raises(Unavailable) as plain:
            fleet.predict("other", {})
        assert plain.value.status == 502 and "proxy" in plain.value.detail
        assert plain.value.errors == [] and plain.value.type is None


def test_a_fan_out_route_with_every_part_down_is_unavailable(gateway):
    with Client(gateway.url, api_key=KEY) as fleet, pytest.raises(Unavailable) as caught:
        fleet.fanout("analyze/message", {"text": "why was 500 debited?"})
    assert caught.value.status == 503
    assert {"intent", "entities"} <= set(caught.value.fields)


def test_a_partial_fan_out_types_the_parts_that_answered_and_keeps_the_errors():
    body = {"intent": {"status": 200, "model_name": "intent", "model_version": "v7",
                       "prediction": {"label": "balance", "confidence": 0.9,
                                      "alternatives": []}},
            "entities": {"status": 503, "error": {
                "type": "https://finfleet.dev/problems/upstream-unavailable",
                "title": "Upstream unavailable", "status": 503,
                "detail": "upstream 'ner' is not reachable"}},
            "partial": True}

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/analyze/message"
        return httpx.Response(200, json=body, headers={"x-request-id": "r9"})

    with Client(transport=httpx.MockTransport(answer)) as fleet:
        result = fleet.fanout("/v1/analyze/message", {"text": "balance?"})
    assert isinstance(result, FanoutAnswer) and result.partial
    assert result.request_id == "r9"
    assert result["intent"].model_version == "v7"
    assert isinstance(result["intent"].prediction, IntentPrediction)
    assert isinstance(result.parts["entities"], Unavailable)
    with pytest.raises(Unavailable) as caught:
        result["entities"]
    assert caught.value.detail == "upstream 'ner' is not reachable"
