"""The kit's service contract, run for ner."""

import pytest

from kit.contract import ServiceContract
from services.ner.app import build_app
from services.ner.settings import NerSettings


class TestContract(ServiceContract):
    name = "ner"
    invalid = ({"text": 42}, "instances[1].text")

    @pytest.fixture
    def model_dir(self, trained):
        return trained.path.parents[1]

    def build_app(self, model_dir, **limits):
        return build_app(NerSettings(model_dir=model_dir, **limits))
