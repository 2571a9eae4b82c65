"""One trace from the caller through the gateway into the credit service, exported over OTLP/HTTP
to a real receiver: real gateway and credit processes, and a small OTLP endpoint in this test
that decodes `ExportTraceServiceRequest` protobuf as a collector would."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
# Spans leave each process in batches; a short delay keeps the test quick.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


class Received:
    """Spans an OTLP receiver was sent, each with its resource's `service.name`."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Span]] = []
        self.lock = threading.Lock()

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                service = next(a.value.string_value for a in resource_spans.resource.attributes
                               if a.key == "service.name")
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((service, span) for span in scope_spans.spans)

    def of_trace(self, trace_id: str) -> list[tuple[str, Span]]:
        with self.lock:
            return [(s, span) for s, span in self.spans if span.trace_id.hex() == trace_id]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/HTTP traces endpoint on a free port: (base URL, what it received)."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces" or \
                    self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_error(404 if self.path != "/v1/traces" else 415)
                return
            received.add(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def traced_fleet(tmp_path, tmp_path_factory, receiver):
    """credit and a gateway, both exporting to the receiver: credit through its own setting,
    the gateway through the standard OTEL_EXPORTER_OTLP_ENDPOINT (a base URL)."""
    url, received = receiver
    model_dir = procs.trained_credit_dir(tmp_path_factory)
    started = []
    try:
        credit = procs.procs.start_service("credit", model_dir, tmp_path, env={
            "CREDIT_LOG_LEVEL": "INFO", "CREDIT_OTLP_ENDPOINT": f"{url}/v1/traces",
            **FAST_EXPORT})
        started.append(credit)
        gateway = procs.start_gateway({
            "GATEWAY_UPSTREAMS": f'{{"credit": "{credit.url}"}}',
            "GATEWAY_LOG_LEVEL": "INFO", "OTEL_EXPORTER_OTLP_ENDPOINT": url, **FAST_EXPORT},
            tmp_path)
        started.append(gateway)
        yield gateway, credit, received
    finally:
        for proc in reversed(started):
            proc.stop()


def wait_for_spans(received: Received, trace_id: str, count: int) -> list[tuple[str, Span]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        spans = received.of_trace(trace_id)
        if len(spans) >= count:
            return spans
        time.sleep(0.05)
    raise AssertionError(f"{len(received.of_trace(trace_id))} spans of trace {trace_id} "
                         f"arrived, not {count}: {received.spans}")


def attributes(span: Span) -> dict:
    out = {}
    for a in span.attributes:
        value = a.value
        out[a.key] = getattr(value, value.WhichOneof("value"))
    return out


def test_one_trace_spans_gateway_to_model(traced_fleet):
    gateway, credit, received = traced_fleet
    response = httpx.post(f"{gateway.url}/v1/credit", json=procs.APPLICANT, timeout=10, headers={
        "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "X-Request-ID": "traced-1"})
    assert response.status_code == 200, response.text
    version = response.json()["model_version"]

    spans = wait_for_spans(received, CALLER_TRACE, 4)
    named = {(service, span.name): span for service, span in spans}
    assert set(named) == {("gateway", "POST /v1/{name}"), ("gateway", "POST credit"),
                          ("credit", "POST /v1/models/credit:predict"),
                          ("credit", "predict credit")}
    server = named[("gateway", "POST /v1/{name}")]
    client = named[("gateway", "POST credit")]
    request = named[("credit", "POST /v1/models/credit:predict")]
    predict = named[("credit", "predict credit")]
    # gateway server → gateway upstream client → kit request → kit predict, under the caller
    assert server.parent_span_id.hex() == CALLER_SPAN
    assert client.parent_span_id == server.span_id
    assert request.parent_span_id == client.span_id
    assert predict.parent_span_id == request.span_id
    assert [s.kind for s in (server, client, request, predict)] == [
        Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_SERVER,
        Span.SPAN_KIND_INTERNAL]
    # within a process a span lies within its parent's time; the service's request span
    # starts after the call went out (it may end after the answer arrived: it ends once sent)
    for parent, child in ((server, client), (request, predict)):
        assert parent.start_time_unix_nano <= child.start_time_unix_nano
        assert child.end_time_unix_nano <= parent.end_time_unix_nano
    assert client.start_time_unix_nano <= request.start_time_unix_nano
    assert attributes(predict) == {"finfleet.model.name": "credit",
                                   "finfleet.model.version": version,
                                   "finfleet.instances": 1, "finfleet.shadow": False}
    assert attributes(server)["http.route"] == "/v1/{name}"
    assert attributes(server)["http.response.status_code"] == 200
    assert attributes(server)["finfleet.request_id"] == "traced-1"
    assert attributes(client)["finfleet.upstream"] == "credit"
    assert attributes(client)["server.port"] == int(credit.url.rsplit(":", 1)[1])
    assert attributes(request)["finfleet.request_id"] == "traced-1"  # forwarded by the gateway

    # the log lines of both processes name the trace and their own server span
    for proc, span in ((gateway, server), (credit, request)):
        lines = [line for line in proc.log.read_text().splitlines()
                 if '"request_id":"traced-1"' in line]
        assert len(lines) == 1, proc.log_tail()
        assert f'"trace_id":"{CALLER_TRACE}"' in lines[0]
        assert f'"span_id":"{span.span_id.hex()}"' in lines[0]
    print("\n" + waterfall(spans))


def test_a_request_without_traceparent_starts_a_trace(traced_fleet):
    gateway, _, received = traced_fleet
    response = httpx.post(f"{gateway.url}/v1/models/credit:predict",
                          json={"instances": [procs.APPLICANT, {**procs.APPLICANT, "age": 41}]},
                          timeout=10,
                          headers={"Cache-Control": "no-cache"})
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 15
    roots: list[Span] = []
    while time.monotonic() < deadline and not roots:
        roots = [span for service, span in list(received.spans)
                 if service == "gateway" and span.name == "POST /v1/models/{name}:predict"]
        time.sleep(0.05)
    assert len(roots) == 1 and roots[0].parent_span_id == b""
    spans = wait_for_spans(received, roots[0].trace_id.hex(), 4)
    predict = next(span for service, span in spans if service == "credit"
                   and span.name == "predict credit")
    assert attributes(predict)["finfleet.instances"] == 2


def waterfall(spans: list[tuple[str, Span]], width: int = 40) -> str:
    """A text waterfall of one trace's spans (parents above children), with real timings."""
    by_id = {span.span_id: (service, span) for service, span in spans}
    start = min(span.start_time_unix_nano for _, span in spans)
    end = max(span.end_time_unix_nano for _, span in spans)
    total = max(end - start, 1)
    children: dict[bytes, list[Span]] = {}
    for _, span in spans:
        parent = span.parent_span_id if span.parent_span_id in by_id else b""
        children.setdefault(parent, []).append(span)
    rows = []

    def walk(parent: bytes, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time_unix_nano):
            left = round((span.start_time_unix_nano - start) / total * width)
            right = max(left + 1, round((span.end_time_unix_nano - start) / total * width))
            bar = " " * left + "█" * (right - left) + " " * (width - right)
            label = f"{'  ' * depth}{by_id[span.span_id][0]}: {span.name}"
            rows.append(f"{label:<46} |{bar}| {(span.start_time_unix_nano - start) / 1e6:6.2f}"
                        f" +{(span.end_time_unix_nano - span.start_time_unix_nano) / 1e6:6.2f} ms")
            walk(span.span_id, depth + 1)

    walk(b"", 0)
    return f"trace {spans[0][1].trace_id.hex()} ({total / 1e6:.2f} ms)\n" + "\n".join(rows)
