"""The kit's service contract, run for credit."""

from kit.contract import ServiceContract
from services.credit.app import build_app
from services.credit.settings import CreditSettings


class TestContract(ServiceContract):
    name = "credit"
    invalid = ({"age": 12}, "instances[1].age")

    def build_app(self, model_dir, **limits):
        return build_app(CreditSettings(model_dir=model_dir, **limits))
