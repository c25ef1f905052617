"""Range breaks: a value beyond every value the entity and its model have seen.

A new extreme is what people who label incidents mark first, and what a model trained on the old range
can score as merely unusual. Numenta's NAB detectors flag a value outside the range seen so far by more
than 5% of that range ("spatial anomaly", ``SPATIAL_TOLERANCE = 0.05``), whatever the model says; so
does ours, with the same published tolerance (``alert.range_tolerance``) rather than one fitted here.
Pure numpy: the engine calls it per row, training computes the model's range with it.
"""

from __future__ import annotations

import numpy as np

from detector.features import FEATURES_PER_METRIC, N_PER_METRIC

_LAST = FEATURES_PER_METRIC.index("last")


def training_range(features: np.ndarray, n_metrics: int) -> np.ndarray:
    """(2, n_metrics): the lowest and highest value of each metric in feature rows (n, d)."""
    last = np.asarray(features, dtype=np.float64)[:, _LAST::N_PER_METRIC][:, :n_metrics]
    return np.stack([last.min(axis=0), last.max(axis=0)])


def known_range(
    model_range: np.ndarray | None, seen_low: np.ndarray, seen_high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The union of the model's training range and the range the entity has streamed (NaN = unknown)."""
    if model_range is None:
        return seen_low, seen_high
    return np.fmin(model_range[0], seen_low), np.fmax(model_range[1], seen_high)


def range_excess(values: np.ndarray, low: np.ndarray, high: np.ndarray, tolerance: float) -> np.ndarray:
    """Per metric: how far ``values`` lie outside [low, high], in units of ``tolerance`` x the range's
    width; above 1 is a range break. 0 inside the range, for an unknown (NaN) or zero-width range, and
    when ``tolerance`` is 0 (the rule is off)."""
    width = high - low
    if tolerance <= 0:
        return np.zeros_like(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        beyond = np.maximum(values - high, low - values) / (tolerance * width)
    return np.where((width > 0) & (beyond > 0), beyond, 0.0)
