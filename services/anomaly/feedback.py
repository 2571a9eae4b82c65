"""`POST /v1/feedback`: a confirmed fraud or genuine outcome for a transaction scored earlier."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kit.app import ready_model, run_model
from kit.http import json_response
from services.anomaly.schema import Feedback


def feedback_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["feedback"])

    @router.post("/feedback", status_code=201)
    async def feedback(body: Feedback, request: Request) -> Response:
        """Stored in the feedback log (training reads it) and in the merchant's fraud record
        (the fraud-rate features read it on the next transaction)."""
        model = ready_model(request)
        entry = await run_model(request, model.record_feedback, body)
        return json_response({"stored": True, **entry}, status=201)

    return router
