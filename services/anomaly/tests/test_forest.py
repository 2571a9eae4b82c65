"""The ONNX forest gives scikit-learn's scores, including for inputs right at split thresholds."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from services.anomaly.export import export_onnx
from services.anomaly.forest import ForestScorer


def test_onnx_scores_equal_sklearn_even_on_split_thresholds(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    forest = IsolationForest(n_estimators=40, max_features=0.75, random_state=0).fit(X)
    export_onnx(forest, 4, tmp_path / "forest.onnx")
    tree, columns = forest.estimators_[0].tree_, forest.estimators_features_[0]
    edges = []
    for node in np.flatnonzero(tree.children_left != -1):
        near = np.float32(tree.threshold[node])
        for value in (np.nextafter(near, np.float32(-np.inf)), near,
                      np.nextafter(near, np.float32(np.inf))):
            row = X[node].copy()
            row[columns[tree.feature[node]]] = value
            edges.append(row)
    probe = np.vstack([X[:500], np.asarray(edges, dtype=np.float32)])
    onnx_scores = ForestScorer(tmp_path / "forest.onnx").score(probe)
    np.testing.assert_allclose(onnx_scores, -forest.score_samples(probe), atol=1e-5)
    assert ((onnx_scores > 0) & (onnx_scores < 1)).all()
