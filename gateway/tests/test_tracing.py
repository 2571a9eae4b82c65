"""The gateway's spans against fake services: every upstream call is a client span under the
request's server span and sends its `traceparent`, fan-out parts and shadow copies (sent later,
from a worker task) included. Off, no `traceparent` goes upstream."""

from __future__ import annotations

import asyncio

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import build_app
from kit.testing import running_client
from kit.tracing import install_tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def traced(settings):
    app = build_app(settings)
    exporter = InMemorySpanExporter()
    install_tracing(app, settings, "gateway", app.state.logger, exporter)
    return app, exporter


def sent_parent(traceparent: str) -> int:
    """The span id a `traceparent` header names."""
    return int(traceparent.split("-")[2], 16)


async def _until(predicate, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


async def test_off_sends_no_traceparent(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        response = await client.post("/v1/credit", json={"x": 2},
                                     headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    assert credit.traceparents == [None]


async def test_fan_out_parts_are_client_spans_of_the_request(make_settings, intent):
    app, exporter = traced(make_settings())
    async with running_client(app) as client:
        response = await client.post("/v1/analyze/message", json={"text": "pay rent"},
                                     headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200 and response.json()["partial"] is True  # ner is down
    spans = {s.name: s for s in exporter.get_finished_spans()}
    server = spans["POST /v1/analyze/message"]
    assert format(server.context.trace_id, "032x") == TRACE_ID
    for part in ("POST intent", "POST ner"):
        assert spans[part].parent.span_id == server.context.span_id
        assert spans[part].kind is trace.SpanKind.CLIENT
    assert spans["POST intent"].attributes["http.response.status_code"] == 200
    assert spans["POST ner"].status.status_code is trace.StatusCode.ERROR  # not reachable
    assert sent_parent(intent.traceparents[0]) == spans["POST intent"].context.span_id


async def test_a_shadow_copy_stays_in_the_request_trace(credit, make_settings):
    credit.candidate = "v2"
    app, exporter = traced(make_settings(traffic={"credit": {"shadow_percent": 100}},
                                         version_refresh_seconds=0.05))
    async with running_client(app) as client:
        await _until(lambda: app.state.versions.candidate("credit") == "v2")
        response = await client.post("/v1/credit", json={"x": 1},
                                     headers={"traceparent": TRACEPARENT})
        assert response.json()["model_version"] == "v1"
        await _until(lambda: credit.candidate_calls)
    spans = {s.name: s for s in exporter.get_finished_spans()
             if format(s.context.trace_id, "032x") == TRACE_ID}
    server = spans["POST /v1/{name}"]
    production, shadow = spans["POST credit"], spans["POST credit:shadow"]
    assert production.parent.span_id == shadow.parent.span_id == server.context.span_id
    assert shadow.attributes["url.path"] == "/v1/models/credit/versions/v2:predict"
    assert sent_parent(credit.traceparents[-1]) == production.context.span_id
    assert sent_parent(credit.candidate_calls[0]["traceparent"]) == shadow.context.span_id
