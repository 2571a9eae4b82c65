"""The kit's service contract, run for spending."""

from kit.contract import ServiceContract
from services.spending.app import build_app
from services.spending.settings import SpendingSettings


class TestContract(ServiceContract):
    name = "spending"
    invalid = ({"history": [], "horizon_months": 3}, "instances[1].history")

    def build_app(self, model_dir, **limits):
        return build_app(SpendingSettings(model_dir=model_dir, **limits))
