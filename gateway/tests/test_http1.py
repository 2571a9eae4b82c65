"""The gateway's keep-alive HTTP/1.1 client against real sockets: a scripted asyncio server for
the awkward cases (closed idle connections, garbage, silence) and a real uvicorn kit service."""

from __future__ import annotations

import asyncio
import contextlib

import httptools
import orjson
import pytest
import uvicorn

from gateway.http1 import ConnectFailed, ConnectionDropped, KeepAliveClient, MalformedResponse
from gateway.tests.conftest import closed_port_url
from gateway.tests.echo_service import echo_model, ensure_artifact
from kit import ServiceSettings, create_app
from kit.serve import CoalescingHttpToolsProtocol

DROP = object()  # a reply: close the request's connection without answering


class ScriptedServer:
    """Answers each request with `reply(request_number, body)` bytes (None: say nothing) and
    records connections, requests and their raw heads."""

    def __init__(self, reply, close_after_each: bool = False) -> None:
        self.reply = reply
        self.close_after_each = close_after_each
        self.connections = 0
        self.requests: list[tuple[bytes, dict[bytes, bytes], bytes]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ": " in line:
                        name, value = line.split(": ", 1)
                        headers[name.lower().encode()] = value.encode()
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                self.requests.append((lines[0].encode(), headers, body))
                answer = self.reply(len(self.requests), body)
                if answer is None:
                    continue
                if answer is DROP:  # this connection closes unanswered
                    writer.close()
                    return
                writer.write(answer)
                await writer.drain()
                if self.close_after_each:
                    writer.close()
                    return


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture
async def echo_server():
    server = await ScriptedServer(lambda n, body: ok(body)).start()
    yield server
    await server.stop()


async def test_posts_and_reuses_one_connection(echo_server):
    client = KeepAliveClient(echo_server.url + "/prefix")
    for i in range(5):
        reply = await client.request("POST", "/v1/x", b'{"i":%d}' % i,
                                     headers={"Content-Type": "application/json"})
        assert (reply.status, reply.body, reply.content_type) == (
            200, b'{"i":%d}' % i, "application/json")
    await client.close()
    assert echo_server.connections == 1
    line, headers, _ = echo_server.requests[0]
    assert line == b"POST /prefix/v1/x HTTP/1.1"
    assert headers[b"host"] == echo_server.url.removeprefix("http://").encode()
    assert headers[b"content-type"] == b"application/json"


async def test_concurrent_requests_stay_within_the_connection_limit(echo_server):
    client = KeepAliveClient(echo_server.url, limit=2)
    replies = await asyncio.gather(*(client.request("POST", "/", b"%d" % i) for i in range(8)))
    assert [r.body for r in replies] == [b"%d" % i for i in range(8)]
    assert echo_server.connections <= 2
    await client.close()


async def test_a_closed_idle_connection_is_replaced_without_an_error():
    server = await ScriptedServer(lambda n, body: ok(body), close_after_each=True).start()
    client = KeepAliveClient(server.url)
    try:
        for _ in range(3):
            assert (await client.request("POST", "/", b"x")).body == b"x"
            await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        assert server.connections == 3
    finally:
        await client.close()
        await server.stop()


async def test_a_reused_connection_dropped_before_answering_is_retried_once():
    # Request 2 arrives on the kept connection, which the server then closes unanswered
    # (a keep-alive timeout race); the client sends it again on a fresh connection.
    server = await ScriptedServer(lambda n, body: ok(body)).start()

    def drop_second(n, body):
        if n in (2, 4):
            server.writers[-1].close()
            return None
        return ok(body)

    server.reply = drop_second
    client = KeepAliveClient(server.url)
    try:
        assert (await client.request("POST", "/", b"a")).body == b"a"
        assert (await client.request("POST", "/", b"b")).body == b"b"
        assert server.connections == 2
        assert [body for *_, body in server.requests] == [b"a", b"b", b"b"]
        with pytest.raises(ConnectionDropped):  # not safe to repeat: raised, not retried
            await client.request("POST", "/", b"c", retry_safe=False)
    finally:
        await client.close()
        await server.stop()


async def test_a_peer_gone_with_several_idle_connections_is_connect_failed_not_dropped():
    # Three kept connections; then the server stops listening and drops each connection that
    # carries a request unanswered (a killed peer whose FINs were not read yet). The retry must
    # connect afresh (refused: the caller's 503), not take the next stale connection (a 502).
    server = await ScriptedServer(lambda n, body: ok(body)).start()
    client = KeepAliveClient(server.url, connect_timeout=0.5)

    def gone(n, body):  # the connection carrying a request closes; the others stay idle
        return DROP

    try:
        answers = await asyncio.gather(*(client.request("POST", "/", b"x") for _ in range(3)))
        assert [a.body for a in answers] == [b"x"] * 3 and len(client._idle) == 3
        server.server.close()
        await server.server.wait_closed()
        server.reply = gone
        with pytest.raises(ConnectFailed):
            await client.request("POST", "/", b"y")
        assert client._idle == []
    finally:
        await client.close()
        await server.stop()


async def test_connect_refused_is_connect_failed():
    client = KeepAliveClient(closed_port_url(), connect_timeout=0.5)
    with pytest.raises(ConnectFailed):
        await client.request("GET", "/health/ready")


async def test_silence_times_out_and_the_connection_is_not_reused():
    server = await ScriptedServer(lambda n, body: None if n == 1 else ok(body)).start()
    client = KeepAliveClient(server.url)
    try:
        with pytest.raises(TimeoutError):
            await client.request("POST", "/", b"slow", timeout=0.1)
        assert (await client.request("POST", "/", b"next")).body == b"next"
        assert server.connections == 2
    finally:
        await client.close()
        await server.stop()


async def test_waiting_for_a_busy_pool_counts_against_the_calls_deadline():
    """With every connection held by a stalled upstream, a queued call fails at its own
    deadline: it used to wait for a slot first, then start its timer (multiples of it)."""
    server = await ScriptedServer(lambda n, body: None).start()
    client = KeepAliveClient(server.url, limit=1)
    try:
        first = asyncio.create_task(client.request("POST", "/", b"a", timeout=5))
        await asyncio.sleep(0.05)
        # Still queued when its deadline passes: the first call holds the only connection.
        with pytest.raises(TimeoutError, match="no upstream connection came free"):
            await client.request("POST", "/", b"b", timeout=0.1)
        assert not first.done()
        first.cancel()
    finally:
        await client.close()
        await server.stop()


async def test_garbage_is_a_malformed_response():
    server = await ScriptedServer(lambda n, body: b"SPDY/9 what\r\n\r\n").start()
    client = KeepAliveClient(server.url)
    try:
        with pytest.raises(MalformedResponse):
            await client.request("GET", "/")
    finally:
        await client.close()
        await server.stop()


async def test_connection_close_answers_are_not_kept():
    server = await ScriptedServer(lambda n, body: ok(body, b"Connection: close\r\n")).start()
    client = KeepAliveClient(server.url)
    try:
        await client.request("POST", "/", b"1")
        await client.request("POST", "/", b"2")
        assert server.connections == 2
    finally:
        await client.close()
        await server.stop()


def test_bad_urls_and_header_injection_are_refused():
    with pytest.raises(ValueError, match="http://host"):
        KeepAliveClient("https://credit:8443")
    client = KeepAliveClient("http://credit:8080")
    with pytest.raises(ValueError, match="line break"):
        client._encode("POST", "/", b"", {"X-Request-ID": "a\r\nEvil: 1"})
    assert client._encode("GET", "/x", b"", None).startswith(
        b"GET /x HTTP/1.1\r\nHost: credit:8080\r\nContent-Length: 0\r\n")


async def test_against_a_real_kit_service_answered_in_one_segment(tmp_path):
    """A kit service under uvicorn with the kit's protocol: predict works through the client,
    and each response leaves the server as one write (status line, headers and body)."""
    ensure_artifact(tmp_path, "echo")
    settings = ServiceSettings(model_dir=tmp_path, port=0, log_level="WARNING")
    app = create_app(echo_model("echo"), settings)
    writes: list[bytes] = []

    class RecordingProtocol(CoalescingHttpToolsProtocol):
        def connection_made(self, transport):
            real_write = transport.write

            def write(data):
                writes.append(bytes(data))
                real_write(data)

            transport.write = write
            super().connection_made(transport)

    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=RecordingProtocol,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    client = KeepAliveClient(f"http://127.0.0.1:{port}")
    try:
        for _ in range(100):
            if (await client.request("GET", "/health/ready")).status == 200:
                break
            await asyncio.sleep(0.05)
        writes.clear()
        reply = await client.request("POST", "/v1/models/echo:predict",
                                     orjson.dumps({"instances": [{"a": 1}, {"b": 2}]}),
                                     headers={"Content-Type": "application/json",
                                              "X-Request-ID": "abc"})
        assert reply.status == 200
        assert orjson.loads(reply.body)["predictions"] == [{"echo": {"a": 1}}, {"echo": {"b": 2}}]
        assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200")
        parsed = {}

        class Headers:
            def on_header(self, name, value):
                parsed[name.lower()] = value

        httptools.HttpResponseParser(Headers()).feed_data(writes[0])
        assert parsed[b"x-request-id"] == b"abc"
    finally:
        await client.close()
        server.should_exit = True
        await task
