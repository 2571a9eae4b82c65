"""The spending service: the kit's app given the spending model and the ingest route."""

from fastapi import FastAPI

from kit import create_app
from services.spending.model import SpendingModel
from services.spending.routes import transactions_router
from services.spending.settings import SpendingSettings


def build_app(settings: SpendingSettings | None = None) -> FastAPI:
    settings = settings or SpendingSettings()
    return create_app(SpendingModel, settings, routers=[transactions_router(settings)])
