"""The Isolation Forest as ONNX at serving time (`export.py` writes it at training time).

skl2onnx turns each tree into ~30 graph nodes (3,000 for 100 trees), so one row costs
milliseconds of per-node overhead. Here the whole forest is one `TreeEnsembleRegressor` whose leaf
values are scikit-learn's path lengths (depth + the expected depth of the leaf's remaining
samples); the graph averages them and applies `score = 2 ** (-mean_path / c(max_samples))`,
which is scikit-learn's anomaly score `-score_samples`, in (0, 1): about 0.5 is ordinary, near 1
easily isolated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort


class ForestScorer:
    """One ONNX Runtime session, single-threaded: a request is a handful of rows."""

    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def score(self, features: np.ndarray) -> np.ndarray:
        out = self.session.run(["scores"], {"features": features.astype(np.float32, copy=False)})
        return out[0].reshape(-1).astype(np.float64)
