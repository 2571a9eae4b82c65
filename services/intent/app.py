"""The intent service app: the kit's factory given IntentModel and its settings."""

from fastapi import FastAPI

from kit import create_app
from services.intent.model import IntentModel
from services.intent.settings import IntentSettings


def build_app(settings: IntentSettings | None = None) -> FastAPI:
    return create_app(IntentModel, settings or IntentSettings())
