"""The credit service: the kit's app given the credit model."""

from fastapi import FastAPI

from kit import create_app
from services.credit.model import CreditModel
from services.credit.settings import CreditSettings


def build_app(settings: CreditSettings | None = None) -> FastAPI:
    return create_app(CreditModel, settings or CreditSettings())
