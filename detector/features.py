"""The one feature definition: per-metric features over several horizons.

Used by the streaming job, by training and by evaluation, so training and serving features can
never differ. All functions are pure numpy.
"""

from __future__ import annotations

import numpy as np

from detector.kernels import N_FEATURES, window_features
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
    "window_z",
    "level_shift",
    "log_volatility_ratio",
)
N_PER_METRIC = len(FEATURES_PER_METRIC)
if N_PER_METRIC != N_FEATURES:  # the kernel and the names must agree
    raise ImportError("detector.features names disagree with detector.kernels.N_FEATURES")


def feature_names(metrics: list[str]) -> list[str]:
    """Names of the feature vector's entries, metric-major: ``cpu_usage.last``, ..."""
    return [f"{m}.{f}" for m in metrics for f in FEATURES_PER_METRIC]


def compute_features(state: EntityState, short: int) -> np.ndarray:
    """Feature vector (n_metrics * N_PER_METRIC,) of the entity's current window.

    Per metric: last value; mean, std, min, max and least-squares slope (per step) of the newest
    ``short`` rows; mean, std and slope of the whole window; the EWMA; the z-score of the last value
    against the slow EW baseline and against the window (clipped to +-50); the short mean's shift from
    the window mean in window standard deviations; log(std short / std window).
    """
    out = np.empty(state.ring.shape[1] * N_PER_METRIC)
    window_features(state.ring, state.pos, state.ewma, state.base_mean, state.base_var, short, out)
    return out


def last_values(features: np.ndarray, n_metrics: int) -> np.ndarray:
    """(n, n_metrics): each metric's ``last`` value in feature rows (n, d), i.e. the rows' raw values."""
    last = FEATURES_PER_METRIC.index("last")
    return np.asarray(features, dtype=np.float64)[:, last::N_PER_METRIC][:, :n_metrics]


def metric_of_feature(n_metrics: int) -> np.ndarray:
    """Index of the metric each feature belongs to (for per-metric contributions)."""
    return np.repeat(np.arange(n_metrics), N_PER_METRIC)
