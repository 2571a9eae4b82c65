"""The Isolation Forest's ONNX export, at training time (scikit-learn and onnx: trainer only).

The graph, and why it is one `TreeEnsembleRegressor`, is described in `forest.py`, which serves it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def export_onnx(forest, n_features: int, path: Path) -> None:
    """Write `forest` (a fitted sklearn IsolationForest) as a two-op ONNX graph."""
    from onnx import TensorProto, helper
    from sklearn.ensemble._iforest import _average_path_length

    nodes: dict[str, list] = {k: [] for k in (
        "treeids", "nodeids", "featureids", "values", "modes", "truenodeids", "falsenodeids")}
    targets: dict[str, list] = {"treeids": [], "nodeids": [], "weights": []}
    for t, (estimator, columns) in enumerate(zip(forest.estimators_, forest.estimators_features_,
                                                 strict=True)):
        tree = estimator.tree_
        leaf_value = (forest._decision_path_lengths[t] + forest._average_path_length_per_tree[t]
                      - 1.0)
        for node in range(tree.node_count):
            leaf = tree.children_left[node] == -1
            nodes["treeids"].append(t)
            nodes["nodeids"].append(node)
            nodes["featureids"].append(0 if leaf else int(columns[tree.feature[node]]))
            nodes["values"].append(0.0 if leaf else _float32_at_or_below(tree.threshold[node]))
            nodes["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            nodes["truenodeids"].append(0 if leaf else int(tree.children_left[node]))
            nodes["falsenodeids"].append(0 if leaf else int(tree.children_right[node]))
            if leaf:
                targets["treeids"].append(t)
                targets["nodeids"].append(node)
                targets["weights"].append(float(leaf_value[node]))
    ensemble = helper.make_node(
        "TreeEnsembleRegressor", ["features"], ["mean_path"], domain="ai.onnx.ml",
        n_targets=1, aggregate_function="AVERAGE", post_transform="NONE",
        **{f"nodes_{k}": v for k, v in nodes.items()},
        target_ids=[0] * len(targets["treeids"]),
        **{f"target_{k}": v for k, v in targets.items()},
    )
    scale = -1.0 / float(_average_path_length([forest._max_samples])[0])
    graph = helper.make_graph(
        [ensemble,
         helper.make_node("Mul", ["mean_path", "scale"], ["exponent"]),
         helper.make_node("Pow", ["two", "exponent"], ["scores"])],
        "isolation_forest",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 1])],
        initializer=[helper.make_tensor("scale", TensorProto.FLOAT, [], [scale]),
                     helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def _float32_at_or_below(threshold: float) -> float:
    """The largest float32 ≤ threshold: for float32 inputs, `x <= it` iff `x <= threshold`,
    so ONNX (float32 thresholds) takes exactly scikit-learn's branches."""
    value = np.float32(threshold)
    if float(value) > threshold:
        value = np.nextafter(value, np.float32(-np.inf))
    return float(value)
