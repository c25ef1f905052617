"""Lean numpy inference for the trained models: the same maths as Keras ``predict`` and sklearn
``IsolationForest.score_samples``, without their per-call overhead.

A model is stored as plain arrays (``inference.npz``, loaded with ``allow_pickle=False``), so serving
never unpickles anything. ``tests/test_inference.py`` proves equality with the reference libraries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}


def average_path_length(n: np.ndarray | float) -> np.ndarray:
    """c(n): average path length of an unsuccessful BST search (Liu et al.), as sklearn defines it."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + np.euler_gamma) - 2.0 * (nb - 1.0) / nb
    return out


@dataclass
class DenseStack:
    """A stack of dense layers: ``x -> act(x @ W + b)`` per layer."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for w, b, act in zip(self.weights, self.biases, self.activations, strict=True):
            x = _ACTIVATIONS[act](x @ w + b)
        return x


@dataclass
class ForestArrays:
    """An Isolation Forest as padded arrays (n_trees, max_nodes), traversed for all trees at once."""

    feature: np.ndarray  # int, -1 at leaves
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_depth: np.ndarray  # path length contribution at a leaf: depth + c(n_node_samples)
    max_depth: int
    c_max_samples: float
    features_per_tree: np.ndarray  # (n_trees, n_used) column indices each tree was fitted on

    @classmethod
    def from_sklearn(cls, forest) -> ForestArrays:
        """Export a fitted ``sklearn.ensemble.IsolationForest``."""
        trees = [e.tree_ for e in forest.estimators_]
        n_nodes = max(t.node_count for t in trees)
        n_trees = len(trees)
        feature = np.full((n_trees, n_nodes), -1, dtype=np.int32)
        threshold = np.zeros((n_trees, n_nodes))
        left = np.zeros((n_trees, n_nodes), dtype=np.int32)
        right = np.zeros((n_trees, n_nodes), dtype=np.int32)
        leaf_depth = np.zeros((n_trees, n_nodes))
        max_depth = 0
        for i, t in enumerate(trees):
            k = t.node_count
            is_leaf = t.children_left[:k] == -1
            feature[i, :k] = np.where(is_leaf, -1, t.feature[:k])
            threshold[i, :k] = t.threshold[:k]
            # leaves point to themselves, so a fixed number of steps lands every row on its leaf
            left[i, :k] = np.where(is_leaf, np.arange(k), t.children_left[:k])
            right[i, :k] = np.where(is_leaf, np.arange(k), t.children_right[:k])
            depth = np.zeros(k)
            for node in range(k):  # parents precede children in sklearn's node order
                if not is_leaf[node]:
                    depth[t.children_left[node]] = depth[node] + 1
                    depth[t.children_right[node]] = depth[node] + 1
            leaf_depth[i, :k] = depth + average_path_length(t.n_node_samples[:k].astype(np.float64))
            max_depth = max(max_depth, int(t.max_depth))
        feats = np.array([np.asarray(f) for f in forest.estimators_features_], dtype=np.int32)
        return cls(
            feature=feature,
            threshold=threshold,
            left=left,
            right=right,
            leaf_depth=leaf_depth,
            max_depth=max_depth,
            c_max_samples=float(average_path_length(np.array([forest.max_samples_]))[0]),
            features_per_tree=feats,
        )

    def anomaly_score(self, x: np.ndarray) -> np.ndarray:
        """Isolation score in (0, 1], higher = more anomalous (= ``-score_samples``), x: (n, d)."""
        # sklearn's trees compare float32 inputs against float64 thresholds: do the same
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        n = x.shape[0]
        n_trees = self.feature.shape[0]
        rows = np.arange(n)[:, None]
        trees = np.arange(n_trees)[None, :]
        node = np.zeros((n, n_trees), dtype=np.int32)
        for _ in range(self.max_depth):
            f = self.feature[trees, node]
            col = self.features_per_tree[trees, np.maximum(f, 0)]
            go_left = x[rows, col] <= self.threshold[trees, node]
            nxt = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(f >= 0, nxt, node)
        depth = self.leaf_depth[trees, node].mean(axis=1)
        return np.power(2.0, -depth / self.c_max_samples)


def to_arrays(prefix: str, obj: DenseStack | ForestArrays) -> dict[str, np.ndarray]:
    """Flatten a model part into named arrays for ``np.savez``."""
    if isinstance(obj, DenseStack):
        out = {f"{prefix}.act": np.array(obj.activations)}
        for i, (w, b) in enumerate(zip(obj.weights, obj.biases, strict=True)):
            out[f"{prefix}.w{i}"] = w
            out[f"{prefix}.b{i}"] = b
        return out
    return {
        f"{prefix}.{name}": np.asarray(getattr(obj, name))
        for name in (
            "feature",
            "threshold",
            "left",
            "right",
            "leaf_depth",
            "max_depth",
            "c_max_samples",
            "features_per_tree",
        )
    }


def dense_from_arrays(prefix: str, arrays: dict[str, np.ndarray]) -> DenseStack:
    """Inverse of :func:`to_arrays` for a :class:`DenseStack`."""
    acts = [str(a) for a in arrays[f"{prefix}.act"]]
    return DenseStack(
        weights=[arrays[f"{prefix}.w{i}"] for i in range(len(acts))],
        biases=[arrays[f"{prefix}.b{i}"] for i in range(len(acts))],
        activations=acts,
    )


def forest_from_arrays(prefix: str, arrays: dict[str, np.ndarray]) -> ForestArrays:
    """Inverse of :func:`to_arrays` for a :class:`ForestArrays`."""
    return ForestArrays(
        feature=arrays[f"{prefix}.feature"],
        threshold=arrays[f"{prefix}.threshold"],
        left=arrays[f"{prefix}.left"],
        right=arrays[f"{prefix}.right"],
        leaf_depth=arrays[f"{prefix}.leaf_depth"],
        max_depth=int(arrays[f"{prefix}.max_depth"]),
        c_max_samples=float(arrays[f"{prefix}.c_max_samples"]),
        features_per_tree=arrays[f"{prefix}.features_per_tree"],
    )
