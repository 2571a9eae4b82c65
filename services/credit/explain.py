"""Per-feature contributions from the boosted trees, without XGBoost at serving time.

Saabas path attribution (XGBoost's `approx_contribs=True`): walking each tree from root to leaf,
the change in the node's expected value at each split is credited to the split's feature. All
trees are walked at once with numpy, one level per step, so a row costs tens of microseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Cells (rows × trees) walked at once: 64 rows of the 200-tree model, ~100 kB of int64 a level,
# under the cache's and glibc's mmap threshold's reach.
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
        leaf points to itself with a zero change, so every row walks exactly `depth` steps with
        no masking: a handful of numpy calls a level, whatever the number of trees. Each node's
        two edges (2·id: the `<` branch, 2·id + 1 the other) hold the child and the change in
        expected value it brings, worked out once here rather than at every step."""
        n_trees, size = self.feature.shape
        offset = (np.arange(n_trees, dtype=np.int64) * size)[:, None]
        leaf = self.feature < 0
        own = offset + np.arange(size)
        left = np.where(leaf, own, self.left + offset).ravel()
        right = np.where(leaf, own, self.right + offset).ravel()
        missing = np.where(leaf, own, self.missing + offset).ravel()
        if not np.all((missing == left) | (missing == right)):
            raise ValueError("a tree sends missing values to neither child")
        value = self.value.ravel()
        child = np.stack([left, right], axis=1).ravel()
        flat = {
            "feature": np.where(leaf, 0, self.feature).ravel().astype(np.int64),
            "threshold": self.threshold.ravel(),
            "child": child,
            "change": value[child] - np.repeat(value, 2),
            "missing_edge": (missing != left).astype(np.int64),
            "roots": offset.ravel(),
        }
        object.__setattr__(self, "_flat", flat)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Contributions in margin (log-odds) units, shape [rows, features], walked
        `CHUNK_CELLS` (row, tree) pairs at a time: a batch gathered from many requests (512
        rows) costs 2.6× less that way than in one walk, whose [depth, rows × trees]
        temporaries outgrow the cache and malloc's reuse (docs/bench.md "Rows that share a
        call"). A row's cells are summed in the same order either way: the same bits."""
        chunk = max(1, CHUNK_CELLS // self.feature.shape[0])
        if len(x) <= chunk:
            return self._walk(x)
        return np.concatenate([self._walk(x[start:start + chunk])
                               for start in range(0, len(x), chunk)])

    def _walk(self, x: np.ndarray) -> np.ndarray:
        """The changes are summed in the order the walk meets them (level by level), which
        fixes every bit."""
        rows, n_features = x.shape
        f = self._flat
        n_trees = f["roots"].size
        node = np.tile(f["roots"], rows)
        row_base = np.repeat(np.arange(rows, dtype=np.int64) * n_features, n_trees)
        values = x.ravel()
        has_missing = bool(np.isnan(values).any())
        # One row of slots and changes a level, written in place: the bincount reads them
        # level by level, as the walk met them.
        slots = np.empty((self.depth, node.size), dtype=np.int64)
        changes = np.empty((self.depth, node.size), dtype=np.float64)
        for level in range(self.depth):
            slot = slots[level]
            np.add(row_base, f["feature"].take(node), out=slot)
            xv = values.take(slot)
            edge = 2 * node
            edge += xv >= f["threshold"].take(node)  # a NaN: `>=` is False ...
            if has_missing:  # ... and its edge is the missing one
                edge = np.where(np.isnan(xv), 2 * node + f["missing_edge"].take(node), edge)
            f["change"].take(edge, out=changes[level])
            f["child"].take(edge, out=node)
        summed = np.bincount(slots.ravel(), weights=changes.ravel(), minlength=rows * n_features)
        return summed.reshape(rows, n_features)


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
