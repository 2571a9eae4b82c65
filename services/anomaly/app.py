"""The anomaly service: the kit's app with AnomalyModel and the feedback route."""

from fastapi import FastAPI

from kit import create_app
from services.anomaly.feedback import feedback_router
from services.anomaly.model import AnomalyModel
from services.anomaly.settings import AnomalySettings


def build_app(settings: AnomalySettings | None = None) -> FastAPI:
    return create_app(AnomalyModel, settings or AnomalySettings(), routers=[feedback_router()])
