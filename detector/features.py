"""The one feature definition: per-metric features over several horizons.

Used by the streaming job, by training and by evaluation, so training and serving features can
never differ. All functions are pure numpy.
"""

from __future__ import annotations

import numpy as np

from detector.windows import EntityState

FEATURES_PER_METRIC = (
    "last",
    "mean_short",
    "std_short",
    "min_short",
    "max_short",
    "slope_short",
    "mean_long",
    "std_long",
    "slope_long",
    "ewma",
    "baseline_z",
)
N_PER_METRIC = len(FEATURES_PER_METRIC)
_EPS = 1e-6


def feature_names(metrics: list[str]) -> list[str]:
    """Names of the feature vector's entries, metric-major: ``cpu_usage.last``, ..."""
    return [f"{m}.{f}" for m in metrics for f in FEATURES_PER_METRIC]


def _slope(w: np.ndarray) -> np.ndarray:
    """Least-squares slope per column of ``w`` (per step)."""
    n = w.shape[0]
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    return (x @ (w - w.mean(axis=0))) / float(x @ x)


def compute_features(state: EntityState, short: int) -> np.ndarray:
    """Feature vector (n_metrics * N_PER_METRIC,) of the entity's current window."""
    w = state.window()
    s = w[-short:]
    last = w[-1]
    base_std = np.sqrt(state.base_var) + _EPS
    feats = np.stack(
        [
            last,
            s.mean(axis=0),
            s.std(axis=0),
            s.min(axis=0),
            s.max(axis=0),
            _slope(s),
            w.mean(axis=0),
            w.std(axis=0),
            _slope(w),
            state.ewma,
            np.clip((last - state.base_mean) / base_std, -50.0, 50.0),
        ],
        axis=1,
    )  # (n_metrics, N_PER_METRIC)
    return feats.ravel()


def metric_of_feature(n_metrics: int) -> np.ndarray:
    """Index of the metric each feature belongs to (for per-metric contributions)."""
    return np.repeat(np.arange(n_metrics), N_PER_METRIC)
