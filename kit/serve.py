"""Run a service app under uvicorn on the settings' host and port (access log off: kit logs)."""

from __future__ import annotations

import asyncio

import orjson
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
    """uvicorn's httptools protocol, writing each response in one send: at the response's end,
    or at the end of the loop turn for a response still streaming."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))

    def on_response_complete(self) -> None:
        self.transport.flush()
        super().on_response_complete()

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


def serve(app: FastAPI, settings: HttpSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: only the configured proxies.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
        timeout_graceful_shutdown=10,
    )
