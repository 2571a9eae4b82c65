"""Run a service app under uvicorn on the settings' host and port (access log off: kit logs)."""

from __future__ import annotations

import asyncio
import signal
import sys

import orjson
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kit import heap
from kit.errors import problem_body
from kit.settings import HttpSettings


class _CoalescingTransport:
    """Joins the writes of one event-loop turn into one `write`.

    uvicorn writes a response's status line and headers, then its body, as two writes: two
    send syscalls and two TCP segments, which wake the peer twice. A small JSON answer is
    sent in one segment this way. Everything else is the real transport's.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response in one send (at the response's end,
    or at the end of the loop turn for a response still streaming), and closing a connection
    whose request does not arrive whole within `request_timeout` seconds: uvicorn times out
    idle keep-alive connections but not a slow request head or body (slowloris)."""

    request_timeout: float = 10.0
    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))
        self._arm_request_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_request_timer()

    def on_message_complete(self) -> None:
        self._cancel_request_timer()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_request_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        self.transport.flush()
        super().on_response_complete()

    def _arm_request_timer(self) -> None:
        self._cancel_request_timer()
        self._request_timer = self.loop.call_later(self.request_timeout, self._request_too_slow)

    def _cancel_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_too_slow(self) -> None:
        self._request_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request httptools cannot parse (a NUL in a header, a bad request line) is answered
        as problem+json like every other error, not uvicorn's plain text."""
        body = orjson.dumps(problem_body(400, "Bad request", f"{msg} (not valid HTTP/1.1)",
                                         slug="bad-request"))
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
            + body)
        self.transport.close()


def _exit_cleanly(signum: int, frame) -> None:
    sys.exit(0)


def serve(app: FastAPI, settings: HttpSettings) -> None:
    protocol = type("ServedProtocol", (CoalescingHttpToolsProtocol,),
                    {"request_timeout": settings.request_timeout})
    # uvicorn drains on SIGTERM, then raises SIGTERM again under the handler it found here: with
    # the default one the process would end killed by the signal (status 143) after a clean
    # drain. A SIGTERM is how every supervisor stops a server, so it exits 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    heap.enabled = True  # a server process: each swap settles its heap (kit/heap.py)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http=protocol,
        # Past this many connections (or requests in flight) new requests get a fast 503.
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_timeout,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: only the configured proxies.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
        timeout_graceful_shutdown=10,
    )
