"""The kit's server (uvicorn with the kit's protocol), for real: a request httptools cannot
parse is answered as problem+json, like every other error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import orjson

from kit.settings import REPO_ROOT
from tests.toy_words.train import main as train_words


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_unparseable_request_is_a_problem_json_400(tmp_path):
    train_words(["--model-dir", str(tmp_path)])
    port = free_port()
    env = {**os.environ, "WORDS_PORT": str(port), "WORDS_MODEL_DIR": str(tmp_path),
           "WORDS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "tests.toy_words"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        reply = raw_exchange(port, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/problem+json" in head.lower()
    problem = orjson.loads(body)
    assert problem["status"] == 400 and problem["title"] == "Bad request"
