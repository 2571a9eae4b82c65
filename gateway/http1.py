"""A small keep-alive HTTP/1.1 client for the gateway's upstream calls: asyncio + httptools.

Why not aiohttp: each upstream call is one small JSON POST on a pooled loopback or in-cluster
connection, and aiohttp's general machinery (a write task per request, timers, cookie and
redirect handling) cost ~270 µs of CPU per call here, most of the gateway's added latency.
This client writes each request in one `transport.write`, parses the answer with httptools
(the parser uvicorn uses) and keeps idle connections for reuse; `python -m gateway.bench`
measures both. Plain `http://` only: upstreams are in-cluster services.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools


class Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str  # the media type without parameters, e.g. "application/json"
    # V2's binary tensor data extension: the JSON header's length, where the answer has one
    header_length: str | None = None


class ConnectFailed(ConnectionError):
    """No connection could be opened: nothing was sent, so trying again is safe."""


class ConnectionDropped(ConnectionError):
    """The connection closed before a whole answer arrived. `answered_nothing`: not one byte
    came back, so a reused keep-alive connection that the server had just closed is the
    likely cause and sending again is safe for a pure call."""

    def __init__(self, message: str, answered_nothing: bool) -> None:
        super().__init__(message)
        self.answered_nothing = answered_nothing


class MalformedResponse(Exception):
    """The upstream's bytes are not a valid HTTP/1.1 response."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.open = False
        self.reusable = False
        self._received = False
        self._chunks: list[bytes] = []
        self._content_type = b""
        self._header_length: bytes | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open = True

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(MalformedResponse(f"bad HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.reusable = False
        self._fail(ConnectionDropped("the upstream closed the connection",
                                     answered_nothing=not self._received))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._chunks = []
        self._content_type = b""
        self._header_length = None

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-type":
            self._content_type = value
        elif name == b"inference-header-content-length":
            self._header_length = value

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # an answer nobody asked for: the connection is out of step
            return
        self.reusable = self.parser.should_keep_alive()
        media_type = self._content_type.split(b";", 1)[0].strip().decode("latin-1").lower()
        length = self._header_length
        self.waiter.set_result(Reply(self.parser.get_status_code(), b"".join(self._chunks),
                                     media_type, None if length is None else length.decode()))

    # client side
    async def exchange(self, request: bytes, timeout: float) -> Reply:  # noqa: ASYNC109
        """Send one whole request; wait at most `timeout` seconds for the whole answer (one
        `call_later` timer: cheaper than an `asyncio.timeout` scope per call)."""
        self.waiter = self.loop.create_future()
        self.reusable = False
        self._received = False
        self.transport.write(request)
        timer = self.loop.call_later(timeout, self._fail, TimeoutError())
        try:
            return await self.waiter
        finally:
            timer.cancel()
            self.waiter = None
            if not self.reusable:
                self.close()  # timed out, cancelled, failed or told to: never reuse it

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and self.open:
            self.open = False
            self.transport.close()


class KeepAliveClient:
    """Pooled connections to one `http://host:port` origin, at most `limit` open at once."""

    def __init__(self, url: str, *, limit: int = 64, connect_timeout: float = 0.5) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream URL must be http://host[:port], got {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.base_path = parts.path.rstrip("/")
        self.connect_timeout = connect_timeout
        host_header = self.host if parts.port is None else f"{self.host}:{self.port}"
        self._host_line = f"Host: {host_header}\r\n".encode("latin-1")
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self._closed = False

    async def request(self, method: str, path: str, body: bytes = b"", *,
                      headers: dict[str, str] | None = None,
                      timeout: float = 5.0,  # noqa: ASYNC109 (the whole call's deadline)
                      retry_safe: bool = True) -> Reply:
        """One request, all of it (waiting for a free connection, connecting, writing, reading)
        within `timeout` seconds. With `retry_safe`, a failed connect or a reused connection
        that closed before answering is tried once more on a fresh connection (the other idle
        ones are closed: a peer that dropped one unanswered, killed or restarting, dropped
        them all, and a retry on another would fail the same way)."""
        request = self._encode(method, path, body, headers)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._slots.locked():  # every connection busy: wait, but not past the deadline
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout)
            except TimeoutError:
                raise TimeoutError("no upstream connection came free in time") from None
        else:
            await self._slots.acquire()
        try:
            for attempt in (1, 2):
                again = retry_safe and attempt == 1
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError("the call's deadline passed")
                try:
                    connection, reused = await self._checkout(remaining)
                except ConnectFailed:
                    if again:
                        continue
                    raise
                try:
                    reply = await connection.exchange(request, deadline - loop.time())
                except ConnectionDropped as exc:
                    if again and reused and exc.answered_nothing:
                        self._close_idle()  # opened to the same peer: the retry connects afresh
                        continue
                    raise
                if connection.reusable and not self._closed:
                    self._idle.append(connection)
                return reply
        finally:
            self._slots.release()
        raise AssertionError("unreachable")

    async def _checkout(self, remaining: float) -> tuple[_Connection, bool]:
        while self._idle:
            connection = self._idle.pop()
            if connection.open:
                return connection, True
        if self._closed:
            raise ConnectFailed("the client is closed")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(min(self.connect_timeout, remaining)):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop), self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"cannot connect: {exc or type(exc).__name__}") from exc
        return connection, False

    def _encode(self, method: str, path: str, body: bytes,
                headers: dict[str, str] | None) -> bytes:
        lines = [f"{method} {self.base_path}{path} HTTP/1.1\r\n".encode("latin-1"),
                 self._host_line, b"Content-Length: %d\r\n" % len(body)]
        for name, value in (headers or {}).items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        lines.append(b"\r\n")
        lines.append(body)
        return b"".join(lines)

    def _close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def close(self) -> None:
        self._closed = True
        self._close_idle()
