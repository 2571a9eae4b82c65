"""The kit's service contract, run for intent."""

from kit.contract import ServiceContract
from services.intent.app import build_app
from services.intent.settings import IntentSettings


class TestContract(ServiceContract):
    name = "intent"
    invalid = ({"text": ""}, "instances[1].text")

    def build_app(self, model_dir, **limits):
        return build_app(IntentSettings(model_dir=model_dir, **limits))
