"""Baselines scored in the same run, on the same data, by the same scorers as our detector.

The stage ablations (autoencoder alone, the model's Isolation Forest stage alone, an Isolation Forest on
the autoencoder's latents alone) come from :class:`evaluation.harness.SentinelDetector`, which shares
one autoencoder fit with them.
Here: scikit-learn's IsolationForest on raw metric rows, and a rolling z-score. Every baseline uses
the same label-free threshold rule as our model (:func:`evaluation.harness.label_free_threshold`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluation.harness import Chunk, label_free_threshold


class RawIsolationForest:
    """sklearn ``IsolationForest`` (default hyperparameters) on each raw metric row."""

    names: tuple[str, ...] = ("iforest_raw",)

    def __init__(self, seed: int = 42):
        self.seed = seed
        self.forest: Any = None
        self.threshold = float("inf")

    def fit(self, past: np.ndarray, times_ms: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest

        past = past.reshape(len(past), -1)
        self.forest = IsolationForest(random_state=self.seed).fit(past)
        self.threshold = label_free_threshold(-self.forest.score_samples(past))

    def score(self, rows: np.ndarray, times_ms: np.ndarray) -> dict[str, Chunk]:
        assert self.forest is not None, "fit first"
        s = -self.forest.score_samples(rows.reshape(len(rows), -1))
        return {"iforest_raw": Chunk(s, (s > self.threshold).astype(np.int8), self.threshold)}


def rolling_z(history: np.ndarray, rows: np.ndarray, window: int, min_rows: int = 10) -> np.ndarray:
    """Per row of ``rows``: max over metrics of |x - mean| / std of the ``window`` rows before it
    (taken from ``history`` and earlier ``rows``). Missing values (NaN) and infinite ones are left out
    of the sums and of the max (either would poison every later sum); a metric with fewer than
    ``min_rows`` values before it does not count, and a row with no metric left is NaN."""
    hist = history[-window:]
    allr = np.concatenate([hist, rows]) if len(hist) else rows
    h = len(hist)
    n, m = rows.shape
    seen = np.isfinite(allr)
    vals = np.where(seen, allr, 0.0)

    def prefix(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((1, m)), np.cumsum(a, axis=0)])

    c0, c1, c2 = prefix(seen.astype(np.float64)), prefix(vals), prefix(vals * vals)
    idx = np.arange(h, h + n)  # position of each scored row in ``allr``
    lo = np.maximum(idx - window, 0)
    cnt = c0[idx] - c0[lo]  # values per metric in each row's window
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[idx] - c1[lo]) / cnt
        var = np.maximum((c2[idx] - c2[lo]) / cnt - mean * mean, 0.0)
        std = np.maximum(np.sqrt(var), 1e-3 * (np.abs(mean) + 1e-3))
        z = np.abs(allr[idx] - mean) / std
    z[cnt < min_rows] = np.nan
    counted = np.isfinite(z)
    return np.where(counted.any(axis=1), np.where(counted, z, -np.inf).max(axis=1), np.nan)


class RollingZScore:
    """Largest |z-score| of the current row against the previous ``window`` rows, over all metrics."""

    names: tuple[str, ...] = ("zscore",)

    def __init__(self, window: int = 100):
        self.window = window
        self.history = np.zeros((0, 0))
        self.threshold = float("inf")

    def fit(self, past: np.ndarray, times_ms: np.ndarray) -> None:
        past = past.reshape(len(past), -1)
        self.threshold = label_free_threshold(rolling_z(past[:0], past, self.window))

    def score(self, rows: np.ndarray, times_ms: np.ndarray) -> dict[str, Chunk]:
        rows = rows.reshape(len(rows), -1)
        hist = self.history if self.history.size else rows[:0]
        s = rolling_z(hist, rows, self.window)
        self.history = np.concatenate([hist, rows])[-self.window :]
        alert = (np.nan_to_num(s, nan=-np.inf) > self.threshold).astype(np.int8)
        return {"zscore": Chunk(s, alert, self.threshold)}
