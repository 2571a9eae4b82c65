"""`POST /v1/users/{user_id}/transactions`: add transactions to a user's stored history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from kit import InvalidInput
from kit.app import ready_model, run_model
from kit.http import json_response
from services.spending.schema import USER_ID_PATTERN, IngestRequest
from services.spending.settings import SpendingSettings

UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="the user's id")]


def transactions_router(settings: SpendingSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/users", tags=["transactions"])

    @router.post("/{user_id}/transactions", status_code=201)
    async def ingest(user_id: UserId, body: IngestRequest, request: Request) -> Response:
        """Store transactions (any order; they are sorted when read). 201 with the stored count."""
        limit = settings.max_ingest_transactions
        if len(body.transactions) > limit:
            raise InvalidInput(
                f"{len(body.transactions)} transactions in one request; the limit is {limit}",
                errors=[{"field": "transactions", "message": f"at most {limit} items",
                         "type": "too_long"}],
            )
        today = dt.datetime.now(dt.UTC).date()
        future = [i for i, t in enumerate(body.transactions) if t.date > today]
        if future:
            raise InvalidInput(
                f"{len(future)} transaction(s) dated in the future",
                errors=[{"field": f"transactions[{i}].date", "message": "date is in the future",
                         "type": "value_error"} for i in future[:20]],
            )
        model = ready_model(request)
        stored = await run_model(request, model.ingest, user_id, body.transactions)
        return json_response(
            {"user_id": user_id, "accepted": len(body.transactions), "stored": stored}, 201
        )

    return router
