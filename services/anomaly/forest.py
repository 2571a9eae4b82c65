"""The Isolation Forest as ONNX: export at training time, score at serving time.

Scores are scikit-learn's anomaly score, `-score_samples`, in (0, 1): about 0.5 is ordinary,
near 1 is easily isolated. ONNX gives `decision_function`, so the forest's offset is added back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort


def export_onnx(forest, n_features: int, path: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(forest, initial_types=[("features", FloatTensorType([None, n_features]))],
                  target_opset={"": 17, "ai.onnx.ml": 3})
    path.write_bytes(onx.SerializeToString())


class ForestScorer:
    """One ONNX Runtime session, single-threaded: a request is a handful of rows."""

    def __init__(self, path: Path, offset: float) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.offset = offset
        self.output = next(o.name for o in self.session.get_outputs() if o.name == "scores")

    def score(self, features: np.ndarray) -> np.ndarray:
        decision = self.session.run([self.output], {"features": features.astype(np.float32)})[0]
        return -(decision.reshape(-1).astype(np.float64) + self.offset)
