"""OpenTelemetry tracing for every finfleet HTTP process (model services and the gateway).

A trace follows a request from the gateway into a model service: the gateway's server span
(continuing the caller's W3C `traceparent` when it sends one), its upstream client span (whose
`traceparent` header the hand-written upstream client sends), the service's request span and
its predict span, with the model's name and version. Logs carry `trace_id` and `span_id` while
a span is current.

Off unless an OTLP endpoint is configured (`<PREFIX>_OTLP_ENDPOINT`, or the standard
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`, see `kit.settings`). Off
costs nothing measurable: no middleware and no log filter is installed, `predict_span` hands
back one shared no-op context, the upstream client adds no header, and the SDK and exporter are
not even imported. On, each process has its own `TracerProvider` (kept on `app.state.tracing`,
never the global one, so tests build as many apps as they like) that batches spans to OTLP/HTTP
(protobuf) off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.middleware import UNMEASURED

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export import SpanExporter
    from starlette.requests import Request

    from kit.settings import HttpSettings

# Span attributes of our own (OpenTelemetry has no convention for a served model).
MODEL_NAME = "finfleet.model.name"
MODEL_VERSION = "finfleet.model.version"
INSTANCES = "finfleet.instances"
SHADOW = "finfleet.shadow"
UPSTREAM = "finfleet.upstream"
REQUEST_ID = "finfleet.request_id"

_W3C = TraceContextTextMapPropagator()
_OFF = nullcontext()


class Tracing:
    """One process's tracer: its provider, a batch processor and the exporter (OTLP/HTTP to
    `endpoint`, or `exporter` where a test gives one)."""

    def __init__(self, service: str, endpoint: str | None = None,
                 exporter: SpanExporter | None = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=endpoint)
        self.service = service
        self.endpoint = endpoint
        # The sampler is the SDK's: parent-based, always on; OTEL_TRACES_SAMPLER changes it.
        self.provider = TracerProvider(resource=Resource.create(
            {"service.name": service, "service.namespace": "finfleet"}))
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("finfleet")

    def shutdown(self) -> None:
        """Export what is queued, then stop (at the end of the app's lifespan)."""
        self.provider.shutdown()

    @contextmanager
    def span(self, name: str, kind: SpanKind = SpanKind.INTERNAL,
             attributes: Mapping[str, Any] | None = None,
             parent: otel_context.Context | None = None) -> Iterator[trace.Span]:
        """A current span that marks an error only where the fault is ours or the upstream's: a
        4xx ProblemError (the caller's input) is recorded as an event, not as a failed span."""
        with self.tracer.start_as_current_span(
                name, context=parent, kind=kind, attributes=attributes,
                record_exception=False, set_status_on_exception=False) as span:
            try:
                yield span
            except BaseException as exc:
                span.record_exception(exc)
                if not _callers_fault(exc):
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    @contextmanager
    def client_span(self, name: str, headers: dict[str, str],
                    attributes: Mapping[str, Any]) -> Iterator[tuple[trace.Span, dict[str, str]]]:
        """A client span and `headers` plus its `traceparent`, for one outgoing call."""
        with self.span(name, SpanKind.CLIENT, attributes) as span:
            carried = dict(headers)
            _W3C.inject(carried)
            yield span, carried


def install_tracing(app: FastAPI, settings: HttpSettings, service: str,
                    logger: logging.Logger, exporter: SpanExporter | None = None
                    ) -> Tracing | None:
    """Trace `app` when `settings.otlp_endpoint` is set (or a test gives an `exporter`): the
    server-span middleware goes outermost (call this after the app's other middleware), the
    logger gets trace ids and the provider is flushed when the lifespan ends. Otherwise nothing
    is installed and `app.state.tracing` is None."""
    app.state.tracing = None
    if not settings.otlp_endpoint and exporter is None:
        return None
    tracing = Tracing(service, settings.otlp_endpoint, exporter)
    app.state.tracing = tracing
    app.add_middleware(TracingMiddleware, tracing=tracing)
    if not any(isinstance(f, TraceIds) for f in logger.filters):
        logger.addFilter(TraceIds())
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            async with inner(app) as state:
                yield state
        finally:
            await asyncio.to_thread(tracing.shutdown)

    app.router.lifespan_context = lifespan
    return tracing


class TracingMiddleware:
    """The server span of each HTTP request, continuing an incoming `traceparent`. Named after
    the route template (`POST /v1/models/credit:predict`), as the metrics label requests; probes
    and `/metrics` are not traced, as they are not measured."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNMEASURED:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        parent = _W3C.extract(scope["headers"], getter=_ASGI_HEADERS)
        with self.tracing.span(method, SpanKind.SERVER, {
                "http.request.method": method, "url.path": scope["path"]}, parent) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                template = getattr(scope.get("route"), "path", None)
                if template:
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                answered(span, status[0])
                request_id = scope.get("state", {}).get("request_id")
                if request_id:
                    span.set_attribute(REQUEST_ID, request_id)


def answered(span: trace.Span, status: int) -> None:
    """An HTTP span's status code; a 5xx marks it failed (a 4xx is the caller's)."""
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def predict_span(request: Request, model: Any, instances: int, shadow: bool = False):
    """The span of one model call (`model`: a ServedModel), or a shared no-op when off."""
    tracing: Tracing | None = request.app.state.tracing
    if tracing is None:
        return _OFF
    return tracing.span(f"predict {model.name}", attributes={
        MODEL_NAME: model.name, MODEL_VERSION: str(model.version), INSTANCES: instances,
        SHADOW: shadow})


def carried_context() -> otel_context.Context:
    """The trace context now, for work another task does later (a shadow copy)."""
    return otel_context.get_current()


@contextmanager
def resumed(carried: otel_context.Context | None) -> Iterator[None]:
    """Run under a context `carried_context` took (nothing to do for None)."""
    if carried is None:
        yield
        return
    token = otel_context.attach(carried)
    try:
        yield
    finally:
        otel_context.detach(token)


class TraceIds(logging.Filter):
    """Adds `trace_id` and `span_id` (hex, as trace backends show them) to a log record made
    while a span is current; installed only when tracing is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = trace.get_current_span().get_span_context()
        if ids.is_valid:
            record.trace_id = format(ids.trace_id, "032x")
            record.span_id = format(ids.span_id, "016x")
        return True


class _AsgiHeaders(Getter):
    """Reads a header from an ASGI scope's `[(name, value), ...]` (names are lower case)."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = key.encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_ASGI_HEADERS = _AsgiHeaders()


def _callers_fault(exc: BaseException) -> bool:
    status = getattr(exc, "status", None)
    return isinstance(status, int) and 400 <= status < 500
