"""`POST /v1/models/<name>/outcomes`: labels that arrive after the fact (a confirmed fraud, a
credit default, a corrected intent, NER spans, a month's actual spending), attached to logged
predictions by prediction id or request id.

An acknowledged outcome is durable: it is written to the log's store (not through the drop
queue) before the 200. Each item answers for itself: `stored`, or `unknown` with the reason
(never logged, sampled out, dropped, or a request id naming several predictions).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from starlette.responses import Response

from kit.errors import InvalidInput, ProblemError, pydantic_errors
from kit.http import json_response
from kit.model import ServedModel
from kit.openapi import ERRORS
from kit.predlog import PredictionLog
from kit.predlog_store import OutcomeItem

Id = Annotated[str, Field(min_length=1, max_length=128)]


class LogUnavailableError(ProblemError):
    status = 503
    title = "Prediction log unavailable"
    slug = "log-unavailable"


class Outcome(BaseModel):
    """One label for one prediction: name it by `prediction_id` (from the predict answer's
    `prediction_ids`) or by `request_id` (its request's X-Request-ID, when that request had one
    instance)."""

    model_config = ConfigDict(extra="forbid")

    prediction_id: Id | None = None
    request_id: Id | None = None
    label: Any = Field(description="What actually happened; its shape is the model's")

    @model_validator(mode="after")
    def one_reference(self) -> Outcome:
        if (self.prediction_id is None) == (self.request_id is None):
            raise ValueError("give exactly one of prediction_id or request_id")
        return self


class Outcomes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: list[Outcome] = Field(min_length=1, max_length=1000)


def validated_labels(model_cls: type[ServedModel], body: Outcomes) -> list[Any]:
    """Each label as the model's `outcome_label` type (JSON-ready); a 422 naming each bad one."""
    adapter = TypeAdapter(model_cls.outcome_label)
    labels, errors = [], []
    for i, item in enumerate(body.outcomes):
        try:
            label = adapter.dump_python(adapter.validate_python(item.label), mode="json")
            orjson.dumps(label)  # what the store writes: integers past 64 bits are refused
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc, prefix=f"outcomes[{i}].label"))
        except orjson.JSONEncodeError as exc:
            errors.append({"field": f"outcomes[{i}].label", "message": str(exc),
                           "type": "unstorable"})
        else:
            labels.append(label)
    if errors:
        raise InvalidInput(f"{len(errors)} invalid label(s)", errors=errors)
    return labels


async def attach(request: Request, items: list[OutcomeItem]) -> list[dict[str, Any]]:
    """Write the items durably (on a thread: the store does I/O), count them, or a 503."""
    log: PredictionLog = request.app.state.predlog
    try:
        results = await asyncio.to_thread(log.store.attach_outcomes, log.name, items)
    except Exception as exc:  # the backend is down or refused: not acknowledged
        request.app.state.logger.warning("outcomes not stored: %s: %s", type(exc).__name__,
                                         exc, exc_info=exc, extra={"route": request.url.path})
        raise LogUnavailableError(f"outcomes for '{log.name}' could not be stored now; "
                                  "retry later") from exc
    for result in results:
        log.metrics.outcomes.labels(log.name, result["status"]).inc()
    return results


def outcomes_router(model_cls: type[ServedModel]) -> APIRouter:
    name = model_cls.name
    router = APIRouter(prefix="/v1/models", tags=["outcomes"])
    label_schema = TypeAdapter(model_cls.outcome_label).json_schema()

    @router.post(f"/{name}/outcomes", responses={
        422: {"description": ERRORS[422]},
        503: {"description": "The prediction log's store is unavailable; nothing was stored"}},
        openapi_extra={"x-label-schema": label_schema})
    async def outcomes(body: Outcomes, request: Request) -> Response:
        """Attach what actually happened to logged predictions. Answers 200 with one result per
        item, in order: `stored` (durably written) or `unknown` (with `detail`)."""
        labels = validated_labels(model_cls, body)
        items = [OutcomeItem(label, item.prediction_id, item.request_id)
                 for item, label in zip(body.outcomes, labels, strict=True)]
        results = await attach(request, items)
        stored = sum(1 for r in results if r["status"] == "stored")
        return json_response({"model_name": name, "stored": stored,
                              "unknown": len(results) - stored,
                              "results": [{"index": i, **r} for i, r in enumerate(results)]})

    @router.get(f"/{name}/quality")
    async def quality(request: Request) -> Response:
        """Live quality over the labelled window, per version (its production, canary and
        shadow answers that got an outcome), and for each shadowing candidate both versions on
        the same labelled requests. Recomputed every `<NAME>_QUALITY_SECONDS`."""
        return json_response(request.app.state.predlog.quality)

    return router
