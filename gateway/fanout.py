"""Fan-out routes: one question answered by several models called concurrently. A part that
fails carries its own error; the others still answer."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from gateway.routes import caller_of, request_id, wants_fresh
from gateway.upstream import UpstreamRejected
from kit.catalog import load_catalog
from kit.errors import (
    InvalidInput,
    ProblemError,
    problem_body,
    problem_response,
    pydantic_errors,
)
from kit.http import json_response, load_json
from kit.openapi import body_operation

router = APIRouter(prefix="/v1/analyze", tags=["analyze"])


class MessageIn(BaseModel):
    text: str = Field(min_length=1)


class TransactionPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    description: str = Field(min_length=1)


class TransactionIn(BaseModel):
    """The anomaly service's instance (`user_id`, `transaction`, ...); the gateway checks only
    what it needs itself, the description that feeds NER, and leaves the rest to anomaly."""

    model_config = ConfigDict(extra="allow")
    user_id: str = Field(min_length=1)
    transaction: TransactionPart


def parse_body(request: Request, request_body: bytes,
               model: type[BaseModel]) -> tuple[BaseModel, dict]:
    """The validated body and the raw payload (forwarded as sent, not as pydantic re-dumps it)."""
    payload = load_json(request_body, request.app.state.settings.max_json_depth)
    try:
        return model.model_validate(payload), payload
    except ValidationError as exc:
        raise InvalidInput("the body does not match the schema",
                           errors=pydantic_errors(exc)) from exc


def check_length(field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters",
                           errors=[{"field": field, "message": f"at most {limit} characters",
                                    "type": "string_too_long"}])


async def part(request: Request, model: str, instance: dict[str, Any]) -> dict[str, Any]:
    """One model's answer, or its error as a problem object; never raises."""
    try:
        result = await request.app.state.router.predict(
            model, [instance], caller=lambda: caller_of(request), request_id=request_id(request),
            use_cache=not wants_fresh(request))
    except ProblemError as exc:
        return {"status": exc.status, "error": problem_body(
            exc.status, exc.title, exc.detail, slug=exc.slug, errors=exc.errors)}
    except UpstreamRejected as exc:
        try:
            error = orjson.loads(exc.body)
        except orjson.JSONDecodeError:
            error = {"status": exc.status, "detail": f"upstream '{model}' refused the input"}
        return {"status": exc.status, "error": error}
    return {"status": 200, "model_name": result.model_name,
            "model_version": result.model_version, "prediction": result.predictions[0]}


# A part refused for one of these is the caller's input, not a failing model: the whole request
# is a 422, never a partial success.
CALLERS_FAULT = frozenset({400, 413, 422})


def part_field(part: str, field: str) -> str:
    """A model's field name as the caller sees it: "anomaly: transaction.amount"."""
    inner = field.removeprefix("instances[0]").lstrip(".")
    return f"{part}: {inner}" if inner else part


async def fan_out(request: Request, calls: dict[str, tuple[str, dict[str, Any]]]) -> Response:
    """`calls` maps an answer field to (model, instance)."""
    answers = await asyncio.gather(*(part(request, model, instance)
                                     for model, instance in calls.values()))
    parts = dict(zip(calls, answers, strict=True))
    refused = {field: p for field, p in parts.items() if p["status"] in CALLERS_FAULT}
    if refused:
        return problem_response(
            422, "Invalid input", "a model this route asks refused the input; see errors",
            slug="invalid-input", request_id=request_id(request),
            errors=[{**error, "field": part_field(field, error.get("field", ""))}
                    for field, p in refused.items()
                    for error in p["error"].get("errors") or [
                        {"message": p["error"].get("detail", ""), "type": "invalid"}]],
        )
    failed = {field: p for field, p in parts.items() if p["status"] != 200}
    if len(failed) == len(parts):
        statuses = {p["status"] for p in failed.values()}
        status = 503 if statuses == {503} else 502
        return problem_response(
            status, "No part could be answered",
            "every model this route needs failed; see errors",
            slug="fan-out-failed", request_id=request_id(request),
            errors=[{"field": field, "message": p["error"].get("detail", ""),
                     "type": p["error"].get("type", "")} for field, p in failed.items()],
        )
    return json_response({**parts, "partial": bool(failed)})


def documented(model: type[BaseModel], route: str) -> dict[str, Any]:
    """The route's body schema, the table's example and its errors, for `/docs`."""
    example = next((r.example for r in load_catalog().fanout if r.name == route), None)
    return body_operation(model.model_json_schema(), example, *FANOUT_ERRORS)


FANOUT_ERRORS = (400, 401, 413, 422, 429, 502, 503)


@router.post("/message", openapi_extra=documented(MessageIn, "analyze/message"))
async def analyze_message(request: Request) -> Response:
    """A chat message → its intent and its entities."""
    message, _ = parse_body(request, await request.body(), MessageIn)
    check_length("text", message.text, request.app.state.settings.max_text_length)
    instance = {"text": message.text}
    return await fan_out(request, {"intent": ("intent", instance),
                                   "entities": ("ner", instance)})


@router.post("/transaction", openapi_extra=documented(TransactionIn, "analyze/transaction"))
async def analyze_transaction(request: Request) -> Response:
    """An anomaly instance (`{"user_id", "transaction": {...}}`) → its anomaly score and the
    entities in the transaction's description."""
    parsed, payload = parse_body(request, await request.body(), TransactionIn)
    description = parsed.transaction.description
    check_length("transaction.description", description,
                 request.app.state.settings.max_text_length)
    return await fan_out(request, {
        "anomaly": ("anomaly", payload),
        "entities": ("ner", {"text": description}),
    })
