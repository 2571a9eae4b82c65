"""RFC 9457 problem details: one error base carrying the status, one renderer."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://finfleet.dev/problems/"


class ProblemError(Exception):
    """An error that is the caller's (4xx) or ours (5xx), rendered as problem+json."""

    status = 500
    title = "Internal Server Error"
    slug = "internal"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status or self.status
        self.title = title or self.title
        self.slug = slug or self.slug
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions or {}  # RFC 9457 extension members beside the standard


class InvalidInput(ProblemError):
    """Input that parsed but breaks the model's contract: 422 naming each field."""

    status = 422
    title = "Invalid input"
    slug = "invalid-input"


class BadRequest(ProblemError):
    status = 400
    title = "Bad request"
    slug = "bad-request"


class PayloadTooLarge(ProblemError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class NotReady(ProblemError):
    status = 503
    title = "Model not ready"
    slug = "not-ready"


def problem_body(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": slug if slug.startswith(("http", "about:")) else PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if request_id:
        body["request_id"] = request_id
    return body


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    body = problem_body(status, title, detail, slug=slug, errors=errors, request_id=request_id)
    if extensions:
        body = {**extensions, **body}
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON,
                    headers=headers)


def pydantic_errors(exc: ValidationError | RequestValidationError, prefix: str = "") -> list[dict]:
    """Flatten pydantic errors into `{field, message, type}` with dotted paths."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        field = ".".join(filter(None, [prefix, *loc])) or prefix or "body"
        out.append({"field": field, "message": err.get("msg", "invalid"), "type": err.get("type")})
    return out


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as problem+json; a bug is a 500 without a stack trace."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status, exc.title, exc.detail, slug=exc.slug, errors=exc.errors,
            request_id=_request_id(request), headers=exc.headers, extensions=exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(
            422, "Invalid input", "The request does not match the schema.",
            slug="invalid-input", errors=pydantic_errors(exc), request_id=_request_id(request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        return problem_response(
            exc.status_code, _reason(exc.status_code), detail, request_id=_request_id(request),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        request.app.state.logger.exception("unhandled error", extra={"route": request.url.path})
        return problem_response(
            500, "Internal Server Error", "The service failed to answer; see its logs.",
            slug="internal", request_id=_request_id(request),
        )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
