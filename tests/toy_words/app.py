from fastapi import FastAPI

from kit import create_app
from tests.toy_words.model import WordsModel
from tests.toy_words.settings import WordsSettings


def build_app(settings: WordsSettings | None = None) -> FastAPI:
    return create_app(WordsModel, settings or WordsSettings())
