"""One pure-ASGI middleware for what every request needs: request id, body limit, JSON bodies only,
metrics, log line.

Pure ASGI (not BaseHTTPMiddleware) because it sits on every hot-path request.
"""

from __future__ import annotations

import logging
import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.errors import PayloadTooLarge, problem_response
from kit.logs import log_info
from kit.metrics import HttpMetrics

# Room for the multipart framing and small form fields beside an upload's file.
UPLOAD_OVERHEAD_BYTES = 1024 * 1024
UNMEASURED = frozenset({"/health/live", "/health/ready", "/metrics"})
_HEADER = b"x-request-id"


class RequestContextMiddleware:
    """Tags each request with an id, refuses oversized bodies (413) and bodies declared as
    anything but JSON (415: a form or multipart body is not read as JSON), counts and logs it."""

    def __init__(
        self, app: ASGIApp, *, metrics: HttpMetrics, logger: logging.Logger, max_body_bytes: int,
        uploads: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.logger = logger
        self.max_body_bytes = max_body_bytes
        # Path prefix → its body limit, for routes that take files (any media type) as well.
        self.uploads = tuple((uploads or {}).items())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or os.urandom(16).hex()  # uuid4().hex's form, cheaper
        scope.setdefault("state", {})["request_id"] = request_id
        rid_header = (_HEADER, request_id.encode("latin-1"))
        status_holder = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        declared, media_type = _body_headers(scope)
        limit, upload = self.max_body_bytes, False
        for prefix, upload_limit in self.uploads:
            if scope["path"].startswith(prefix):
                limit, upload = upload_limit, True
        try:
            if declared is not None and declared > limit:
                response = problem_response(
                    413, "Payload too large",
                    f"request body is {declared} bytes; the limit is {limit}",
                    slug="payload-too-large", request_id=request_id,
                )
                await response(scope, receive, send_with_id)
            elif media_type is not None and not upload and not _is_json(media_type):
                response = problem_response(
                    415, "Unsupported media type",
                    f"the body is declared as {media_type!r}; send application/json",
                    slug="unsupported-media-type", request_id=request_id,
                )
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, self._limited(receive, limit), send_with_id)
        finally:  # an error that escapes (answered 500 further out) is counted too
            self._record(scope, status_holder[0], time.perf_counter() - started, request_id)

    def _limited(self, receive: Receive, limit: int) -> Receive:
        """Counts streamed (chunked) bodies too, where no Content-Length was declared."""
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            return message

        return wrapped

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        path = scope["path"]
        if path in UNMEASURED:
            return
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.observe(template, status, seconds)
        if self.logger.isEnabledFor(logging.INFO):
            log_info(self.logger, "request", {
                "request_id": request_id, "service": self.metrics.service,
                "method": scope["method"], "route": template, "status": status,
                "duration_ms": round(seconds * 1000, 3)})


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == _HEADER:
            text = value.decode("latin-1").strip()
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None


def _body_headers(scope: Scope) -> tuple[int | None, str | None]:
    """The declared Content-Length and media type (without parameters), in one pass."""
    length = media_type = None
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif key == b"content-type":
            media_type = value.decode("latin-1").partition(";")[0].strip().lower()
    return length, media_type


def _is_json(media_type: str) -> bool:
    return media_type in ("application/json", "") or media_type.endswith("+json")

