"""post.lua against a tiny recording server: static bodies repeat, varied bodies never do."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bench.tests.conftest import require_wrk
from bench.wrk import run_wrk


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.bodies.append(body)
        self.send_response(200 if self.headers["Content-Type"] == "application/json" else 415)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    require_wrk()
    Recorder.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    server.shutdown()
    server.server_close()


def test_static_body_is_sent_as_is(recorder, tmp_path: Path):
    body = tmp_path / "body.json"
    body.write_text('{"instances":[{"x":1}]}')
    result = run_wrk(recorder, body, connections=1, seconds=1)
    assert result.requests > 0 and result.non_2xx == 0
    assert set(Recorder.bodies) == {b'{"instances":[{"x":1}]}'}


def test_varied_body_gets_a_fresh_number_per_placeholder(recorder, tmp_path: Path):
    body = tmp_path / "body.json"
    body.write_text('{"instances":[{"x":7.__N__},{"x":7.__N__}]}')
    result = run_wrk(recorder, body, connections=2, seconds=1, vary_start=100_000_000)
    assert result.requests > 0 and result.non_2xx == 0
    numbers = [n for b in Recorder.bodies for n in b.decode().split("7.")[1:]]
    values = [int(n.split("}")[0]) for n in numbers]
    assert b"__N__" not in b"".join(Recorder.bodies)
    assert len(values) == len(set(values)) == 2 * len(Recorder.bodies)
    assert 100_000_000 < min(values) < 100_000_100  # counting starts at BENCH_START
