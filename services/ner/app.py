"""The ner service: the kit's app given the spaCy model."""

from __future__ import annotations

from fastapi import FastAPI

from kit import create_app
from services.ner.model import NerModel
from services.ner.settings import NerSettings


def build_app(settings: NerSettings | None = None) -> FastAPI:
    return create_app(NerModel, settings or NerSettings())
