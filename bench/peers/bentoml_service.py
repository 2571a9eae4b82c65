"""The BentoML peer: the credit XGBoost booster behind one batchable API, as BentoML's docs
recommend (`@bentoml.service` class, `@bentoml.api(batchable=True)`: concurrent requests are
gathered into one call by BentoML's adaptive batcher). Runs inside `bench/.venv-bentoml` only:

    BENCH_BOOSTER=xgboost.json bentoml serve bentoml_service:CreditBooster \
        --host 127.0.0.1 --port PORT --working-dir bench/peers

`POST /predict {"input": [[float, ...], ...]}` → `[P(default), ...]`, one per row (the raw
booster probability; finfleet calibrates it, and the bench applies the same calibration before
comparing answers).
"""

import os

import bentoml
import numpy as np
import xgboost


@bentoml.service(workers=1)
class CreditBooster:
    def __init__(self) -> None:
        self.booster = xgboost.Booster(model_file=os.environ["BENCH_BOOSTER"])
        self.booster.set_param({"nthread": 1})

    @bentoml.api(batchable=True)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.booster.inplace_predict(np.asarray(input, dtype=np.float32))
