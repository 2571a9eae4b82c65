"""The kit's service contract, run for anomaly."""

from kit.contract import ServiceContract
from services.anomaly.app import build_app
from services.anomaly.settings import AnomalySettings


class TestContract(ServiceContract):
    name = "anomaly"
    invalid = ({"user_id": "u", "transaction": {"timestamp": "2024-01-01T10:00:00", "amount": -5,
                                                "merchant": "m"}},
               "instances[1].transaction.amount")

    def build_app(self, model_dir, **limits):
        return build_app(AnomalySettings(model_dir=model_dir, **limits))
