"""Per-feature contributions from the boosted trees, without XGBoost at serving time.

Saabas path attribution (XGBoost's `approx_contribs=True`): walking each tree from root to leaf,
the change in the node's expected value at each split is credited to the split's feature. All
trees are walked at once with numpy, one level per step, to each row's leaves; what the path to
a leaf credits each feature is tabled once per node, so a row's contributions are its leaves'
rows of that table summed (no per-step bookkeeping): a row of a batch costs a few
microseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Cells (rows × trees) walked at once: 64 rows of the 200-tree model, ~100 kB of int64 a level
# and ~1.2 MB of gathered path rows (12 reported features).
CHUNK_CELLS = 12_800


@dataclass(frozen=True)
class TreeTables:
    """Every tree padded to the same node count: split feature (-1 = leaf), threshold, children,
    the child taken for a missing value, and each node's expected (cover-weighted) value."""

    feature: np.ndarray  # int32 [trees, nodes]
    threshold: np.ndarray  # float32
    left: np.ndarray  # int32
    right: np.ndarray
    missing: np.ndarray
    value: np.ndarray  # float64
    bias: float  # margin every row starts from (base score + sum of root values)
    depth: int

    def save(self, path: Path) -> None:
        np.savez(path, feature=self.feature, threshold=self.threshold, left=self.left,
                 right=self.right, missing=self.missing, value=self.value,
                 meta=np.array([self.bias, self.depth], dtype=np.float64))

    @classmethod
    def load(cls, path: Path) -> TreeTables:
        with np.load(path) as data:
            bias, depth = data["meta"]
            return cls(data["feature"], data["threshold"], data["left"], data["right"],
                       data["missing"], data["value"], float(bias), int(depth))

    def __post_init__(self) -> None:
        """Flatten the trees into one node table (global id = tree × size + node) in which a
        leaf points to itself, so every row walks exactly `depth` steps with no masking: a
        handful of numpy calls a level, whatever the number of trees. Each node's two edges
        (2·id: the `<` branch, 2·id + 1 the other) hold the child. `paths` holds, for every
        node, what the walk from its root to it credits each feature: a row's contributions
        are then its leaves' rows of `paths`, summed over the trees."""
        n_trees, size = self.feature.shape
        offset = (np.arange(n_trees, dtype=np.int64) * size)[:, None]
        leaf = self.feature < 0
        own = offset + np.arange(size)
        left = np.where(leaf, own, self.left + offset).ravel()
        right = np.where(leaf, own, self.right + offset).ravel()
        missing = np.where(leaf, own, self.missing + offset).ravel()
        if not np.all((missing == left) | (missing == right)):
            raise ValueError("a tree sends missing values to neither child")
        flat = {
            "feature": np.where(leaf, 0, self.feature).ravel().astype(np.int64),
            "threshold": self.threshold.ravel(),
            "child": np.stack([left, right], axis=1).ravel(),
            "missing_edge": (missing != left).astype(np.int64),
            "roots": offset.ravel(),
        }
        object.__setattr__(self, "_flat", flat)
        object.__setattr__(self, "_paths", {})

    def paths(self, n_features: int) -> np.ndarray:
        """[nodes, n_features]: a root's row is zero; a child's is its parent's plus the change
        in expected value the edge brings, credited to the parent's split feature (Saabas).
        Filled level by level from the roots, every tree at once; kept per width."""
        if n_features in self._paths:
            return self._paths[n_features]
        if self.feature.max() >= n_features:
            raise ValueError(f"the trees split on feature {self.feature.max()} of {n_features}")
        flat, leaf = self._flat, (self.feature < 0).ravel()
        value = self.value.ravel()
        paths = np.zeros((value.size, n_features))
        parents = flat["roots"]
        for _ in range(self.depth):
            parents = parents[~leaf[parents]]
            for side in (0, 1):
                children = flat["child"][2 * parents + side]
                paths[children] = paths[parents]
                paths[children, flat["feature"][parents]] += value[children] - value[parents]
            parents = flat["child"][np.concatenate([2 * parents, 2 * parents + 1])]
        self._paths[n_features] = paths
        return paths

    def contributions(self, x: np.ndarray, paths: np.ndarray | None = None) -> np.ndarray:
        """Contributions in margin (log-odds) units, [rows, features], or [rows, k] for `paths`
        regrouped as `self.paths(features) @ groups` (a model's reported features). Walked
        `CHUNK_CELLS` (row, tree) pairs at a time: a batch gathered from many requests (512
        rows) would otherwise build [trees × rows, features] temporaries past the cache
        (docs/bench.md "Rows that share a call"). A row's sum runs over its trees in order,
        whatever its neighbours: a row answers alone as in a batch."""
        paths = self.paths(x.shape[1]) if paths is None else paths
        if len(paths) != self.value.size:
            raise ValueError(f"a path table has {len(paths)} rows for {self.value.size} nodes")
        chunk = max(1, CHUNK_CELLS // self.feature.shape[0])
        if len(x) <= chunk:
            return self._summed(x, paths)
        return np.concatenate([self._summed(x[start:start + chunk], paths)
                               for start in range(0, len(x), chunk)])

    def _summed(self, x: np.ndarray, paths: np.ndarray) -> np.ndarray:
        n_trees = self.feature.shape[0]
        return paths.take(self.leaves(x), axis=0).reshape(n_trees, len(x), paths.shape[1]).sum(
            axis=0)

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """Each (tree, row)'s leaf, tree-major: [trees × rows] global node ids."""
        rows, n_features = x.shape
        f = self._flat
        node = np.repeat(f["roots"], rows)
        row_base = np.tile(np.arange(rows, dtype=np.int64) * n_features, f["roots"].size)
        values = x.ravel()
        has_missing = bool(np.isnan(values).any())
        for _ in range(self.depth):
            xv = values.take(row_base + f["feature"].take(node))
            edge = 2 * node
            edge += xv >= f["threshold"].take(node)  # a NaN: `>=` is False ...
            if has_missing:  # ... and its edge is the missing one
                edge = np.where(np.isnan(xv), 2 * node + f["missing_edge"].take(node), edge)
            node = f["child"].take(edge)
        return node


def tables_from_booster(booster, base_margin: float) -> TreeTables:
    """Read the trees from an XGBoost booster's JSON dump (training time only)."""
    dumps = [json.loads(d) for d in booster.get_dump(dump_format="json", with_stats=True)]
    size = max(_max_id(t) for t in dumps) + 1
    n = len(dumps)
    feature = np.full((n, size), -1, dtype=np.int32)
    threshold = np.zeros((n, size), dtype=np.float32)
    left, right, missing = (np.zeros((n, size), dtype=np.int32) for _ in range(3))
    value = np.zeros((n, size), dtype=np.float64)
    depth = 0
    for t, tree in enumerate(dumps):
        depth = max(depth, _fill(tree, t, feature, threshold, left, right, missing, value, 0))
    bias = base_margin + float(value[:, 0].sum())
    return TreeTables(feature, threshold, left, right, missing, value, bias, depth)


def _max_id(node: dict) -> int:
    return max([node["nodeid"], *(_max_id(c) for c in node.get("children", ()))])


def _fill(node, t, feature, threshold, left, right, missing, value, level) -> int:
    """Fill one node's row; returns the subtree's depth. Internal value = cover-weighted mean."""
    i = node["nodeid"]
    if "leaf" in node:
        value[t, i] = node["leaf"]
        return level
    feature[t, i] = int(str(node["split"]).lstrip("f"))
    threshold[t, i] = node["split_condition"]
    left[t, i], right[t, i], missing[t, i] = node["yes"], node["no"], node["missing"]
    depth = max(_fill(c, t, feature, threshold, left, right, missing, value, level + 1)
                for c in node["children"])
    covers = {c["nodeid"]: c["cover"] for c in node["children"]}
    total = sum(covers.values())
    value[t, i] = sum(value[t, c] * w for c, w in covers.items()) / total
    return depth
