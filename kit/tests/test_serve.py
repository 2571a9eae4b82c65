"""The kit's server (uvicorn with the kit's protocol), for real: a request httptools cannot
parse is answered as problem+json, a request that trickles in is cut off, and past the
connection limit new requests get a fast 503 while the server keeps serving."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import orjson
import pytest

from kit.procs import free_port
from kit.settings import REPO_ROOT
from tests.toy_words.train import main as train_words


def raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def words_server(tmp_path):
    """The toy `words` service under the kit's server: a 0.5 s request timeout, 4 connections."""
    train_words(["--model-dir", str(tmp_path)])
    port = free_port()
    env = {**os.environ, "WORDS_PORT": str(port), "WORDS_MODEL_DIR": str(tmp_path),
           "WORDS_LOG_LEVEL": "WARNING", "WORDS_REQUEST_TIMEOUT": "0.5",
           "WORDS_MAX_CONNECTIONS": "4"}
    proc = subprocess.Popen([sys.executable, "-m", "tests.toy_words"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_unparseable_request_is_a_problem_json_400(words_server):
    reply = raw_exchange(words_server,
                         b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/problem+json" in head.lower()
    problem = orjson.loads(body)
    assert problem["status"] == 400 and problem["title"] == "Bad request"


def test_a_request_that_trickles_in_is_cut_off(words_server):
    with socket.create_connection(("127.0.0.1", words_server), timeout=5) as sock:
        sock.sendall(b"POST /v1/models/words:predict HTTP/1.1\r\nHost: x\r\n")  # no end
        assert sock.recv(1024) == b"", "the server closes a head that never completes"
    with socket.create_connection(("127.0.0.1", words_server), timeout=5) as sock:
        sock.sendall(b"POST /v1/models/words:predict HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 100\r\n\r\n{")  # a body that stops
        assert sock.recv(1024) == b""


def test_past_the_connection_limit_new_requests_get_a_503_and_service_resumes(words_server):
    idle = [socket.create_connection(("127.0.0.1", words_server), timeout=5) for _ in range(4)]
    try:
        time.sleep(0.1)
        reply = raw_exchange(words_server, b"GET /health/live HTTP/1.1\r\nHost: x\r\n"
                                           b"Connection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    reply = raw_exchange(words_server, b"GET /health/live HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")


def test_a_server_process_settles_its_heap_once_its_model_is_loaded(tmp_path):
    """kit/heap.py: the real server logs the settle, with what it froze."""
    train_words(["--model-dir", str(tmp_path)])
    port, log = free_port(), tmp_path / "words.log"
    env = {**os.environ, "WORDS_PORT": str(port), "WORDS_MODEL_DIR": str(tmp_path),
           "WORDS_LOG_LEVEL": "INFO"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.toy_words"], cwd=REPO_ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        settled = []
        for _ in range(200):
            settled = [line for line in log.read_text().splitlines() if "heap settled" in line]
            if settled:
                break
            time.sleep(0.05)
        assert settled, log.read_text()[-2000:]
        line = orjson.loads(settled[0])
        assert line["service"] == "words" and line["frozen"] > 1000 and line["collect_ms"] >= 0
        for _ in range(200):  # the settle may be logged before uvicorn opens the port
            try:
                reply = raw_exchange(port, b"GET /health/ready HTTP/1.1\r\nHost: x\r\n"
                                           b"Connection: close\r\n\r\n")
                break
            except OSError:
                time.sleep(0.05)
        assert b"200 OK" in reply
    finally:
        proc.terminate()
        proc.wait(timeout=10)
