"""Tracing in-process: off installs nothing; on, a request and its predict are spans that continue
the caller's `traceparent`, and log lines carry the ids. (The whole trace across real processes
and a real OTLP receiver: tests/test_tracing.py.)"""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import build_app
from gateway.settings import GatewaySettings
from gateway.tests.echo_service import echo_model, ensure_artifact
from kit import ServiceSettings, create_app
from kit.testing import running_client
from kit.tracing import TraceIds, TracingMiddleware, install_tracing

OTEL_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def no_otel_env(monkeypatch):
    for variable in OTEL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def installed(app) -> list[type]:
    return [m.cls for m in app.user_middleware]


def test_no_endpoint_installs_no_provider_middleware_or_filter(tmp_path, no_otel_env):
    service = create_app(echo_model("echo"), ServiceSettings(model_dir=tmp_path))
    gateway = build_app(GatewaySettings(upstreams={"echo": "http://127.0.0.1:9"}))
    for app in (service, gateway):
        assert app.state.tracing is None
        assert TracingMiddleware not in installed(app)
        assert not any(isinstance(f, TraceIds) for f in app.state.logger.filters)
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)  # the API's no-op proxy


def test_an_endpoint_installs_it_outermost(tmp_path, no_otel_env):
    app = create_app(echo_model("echo"),
                     ServiceSettings(model_dir=tmp_path, otlp_endpoint="http://127.0.0.1:9/x"))
    assert installed(app)[0] is TracingMiddleware
    assert app.state.tracing.endpoint == "http://127.0.0.1:9/x"
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)  # its own, not global


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/"}, "http://otel:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces"},
     "http://tempo:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
      "GATEWAY_OTLP_ENDPOINT": "http://mine:4318/v1/traces"}, "http://mine:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "GATEWAY_OTLP_ENDPOINT": ""}, ""),
])
def test_endpoint_from_the_standard_variables_or_the_process_own(monkeypatch, no_otel_env,
                                                                  env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert GatewaySettings(upstreams={}).otlp_endpoint == expected


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_request_and_predict_spans_continue_the_callers_trace(tmp_path, no_otel_env):
    ensure_artifact(tmp_path, "echo")
    settings = ServiceSettings(model_dir=tmp_path)
    app = create_app(echo_model("echo"), settings)
    exporter = InMemorySpanExporter()
    install_tracing(app, settings, "echo", app.state.logger, exporter)
    lines = Lines()
    app.state.logger.addHandler(lines)
    try:
        async with running_client(app) as client:
            response = await client.post(
                "/v1/models/echo:predict", json={"instances": [1, 2]},
                headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"})
            refused = await client.post("/v1/models/echo:predict", json={"instances": []})
            garbled = await client.post("/v1/models/echo:predict", json={"instances": [3]},
                                        headers={"traceparent": "00-not-a-trace-01"})
    finally:
        app.state.logger.removeHandler(lines)
    assert response.status_code == 200 and refused.status_code == 422
    assert garbled.status_code == 200  # a malformed traceparent is ignored: a trace of its own
    spans = exporter.get_finished_spans()
    traced = {s.name: s for s in spans if format(s.context.trace_id, "032x") == TRACE_ID}
    request, predict = traced["POST /v1/models/echo:predict"], traced["predict echo"]
    assert len(traced) == 2
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert format(request.parent.span_id, "016x") == CALLER_SPAN and request.parent.is_remote
    assert request.kind is trace.SpanKind.SERVER
    assert request.attributes["finfleet.request_id"] == response.headers["x-request-id"]
    assert predict.parent.span_id == request.context.span_id
    assert predict.context.trace_id == request.context.trace_id
    assert dict(predict.attributes) == {"finfleet.model.name": "echo",
                                        "finfleet.model.version": response.json()["model_version"],
                                        "finfleet.instances": 2, "finfleet.shadow": False}
    bad = next(s for s in spans if s.attributes.get("http.response.status_code") == 422)
    assert bad.parent is None  # no traceparent: a new trace
    fresh = [s for s in spans if s.name == "POST /v1/models/echo:predict"
             and s.attributes["finfleet.request_id"] == garbled.headers["x-request-id"]]
    assert len(fresh) == 1 and fresh[0].parent is None
    assert fresh[0].context.trace_id != request.context.trace_id
    assert bad.status.status_code is trace.StatusCode.UNSET  # the caller's fault is no error
    assert not any(s.name.startswith("GET") for s in spans)  # probes are not traced
    logged = [r for r in lines.records if r.getMessage() == "request"]
    assert [(r.trace_id, r.span_id) for r in logged] == [
        (format(s.context.trace_id, "032x"), format(s.context.span_id, "016x"))
        for s in (request, bad, fresh[0])]
    assert logged[0].trace_id == TRACE_ID
