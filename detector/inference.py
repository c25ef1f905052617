"""Lean numpy inference for the trained models: the same maths as Keras ``predict`` and sklearn
``IsolationForest.score_samples``, without their per-call overhead.

A model is stored as plain arrays (``inference.npz``, loaded with ``allow_pickle=False``), so serving
never unpickles anything. ``tests/test_inference.py`` proves equality with the reference libraries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from detector.kernels import dense_forward, forest_mean_depth

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}

_CODES = {"linear": 0, "relu": 1, "tanh": 2, "sigmoid": 3}


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
    _packed: tuple | None = field(default=None, repr=False, compare=False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Rows (n, d) through the stack; numpy (BLAS) for batches, a compiled loop for one row."""
        if x.ndim == 2 and x.shape[0] == 1:
            return self.forward_one(x[0])[None, :]
        for w, b, act in zip(self.weights, self.biases, self.activations, strict=True):
            x = _ACTIVATIONS[act](x @ w + b)
        return x

    def forward_one(self, x: np.ndarray) -> np.ndarray:
        """One row (d,) through the stack (compiled; equal to the numpy path within 1e-12)."""
        if self._packed is None:
            layout, wo, bo = [], 0, 0
            for w, act in zip(self.weights, self.activations, strict=True):
                layout.append((w.shape[0], w.shape[1], wo, bo, _CODES[act]))
                wo += w.size
                bo += w.shape[1]
            self._packed = (
                np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in self.weights]),
                np.concatenate([np.asarray(b, dtype=np.float64) for b in self.biases]),
                np.array(layout, dtype=np.int64),
            )
        return dense_forward(np.ascontiguousarray(x, dtype=np.float64), *self._packed)


@dataclass
class ForestArrays:
    """An Isolation Forest as padded arrays (n_trees, max_nodes), traversed by a compiled loop."""

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
        out = np.empty(x.shape[0])
        forest_mean_depth(
            np.ascontiguousarray(x, dtype=np.float64),
            self.feature,
            self.threshold,
            self.left,
            self.right,
            self.leaf_depth,
            self.features_per_tree,
            out,
        )
        return np.power(2.0, -out / self.c_max_samples)


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
