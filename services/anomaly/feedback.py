"""`POST /v1/feedback`: a confirmed fraud or genuine outcome for a transaction scored earlier."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kit.app import ready_model, run_model
from kit.http import json_response
from kit.outcomes import attach
from kit.predlog_store import OutcomeItem
from services.anomaly.schema import Feedback


def feedback_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["feedback"])

    @router.post("/feedback", status_code=201)
    async def feedback(body: Feedback, request: Request) -> Response:
        """Stored in the feedback log (training reads it), in the merchant's fraud record
        (the fraud-rate features read it on the next transaction) and, as an outcome, on the
        transaction's logged prediction (`prediction_id`; null when it was not logged)."""
        model = ready_model(request)
        logged = await attach(request, [OutcomeItem(body.label, key=body.transaction_id,
                                                    source="feedback")])
        entry = await run_model(request, model.record_feedback, body)
        return json_response({"stored": True, **entry,
                              "prediction_id": logged[0].get("prediction_id")}, status=201)

    return router
