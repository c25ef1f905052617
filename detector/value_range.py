"""Range breaks: a value beyond every value the entity and its model have seen.

A new extreme is what people who label incidents mark first. Numenta's NAB detectors flag a value
outside the range seen so far by more than 5% of that range ("spatial anomaly", ``SPATIAL_TOLERANCE =
0.05``) whatever their model says. Ours uses the same published tolerance (``alert.range_tolerance``),
not one fitted here, and only on rows the model also finds unusual (above the normal 99th percentile,
calibrated score 1): alone, the range adds false alerts on the simulated fleet, where a host's values
can lie a little past the training hosts' pooled range. No Flink or Redis here: the engine calls it on every
row (a compiled kernel), training takes the model's range from it."""

from __future__ import annotations

import functools

import numpy as np

from detector.features import last_values
from detector.kernels import range_break


def training_range(features: np.ndarray, n_metrics: int) -> np.ndarray:
    """(2, n_metrics): the lowest and highest value of each metric in feature rows (n, d), at float32
    precision like the values :func:`check_and_extend` compares with it."""
    last = last_values(features, n_metrics)
    return np.stack([last.min(axis=0), last.max(axis=0)]).astype(np.float32).astype(np.float64)


def check_and_extend(
    values: np.ndarray,
    model_range: np.ndarray | None,
    seen_low: np.ndarray,
    seen_high: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """Per metric: how far ``values`` lie outside the known range (the model's training range joined
    with the streamed ``seen_low``/``seen_high``), in units of ``tolerance`` x its width; above 1 is a
    range break. 0 inside, for an unknown (NaN) or zero-width range, and when ``tolerance`` is 0 (off).
    Then extends the streamed range by ``values`` (in place)."""
    low, high = (model_range[0], model_range[1]) if model_range is not None else _unknown(len(values))
    excess = np.empty(len(values))
    range_break(values, low, high, seen_low, seen_high, tolerance, excess)
    return excess


@functools.cache
def _unknown(n_metrics: int) -> tuple[np.ndarray, np.ndarray]:
    """All-NaN bounds (read-only, shared): a model without a training range."""
    nan = np.full(n_metrics, np.nan)
    nan.flags.writeable = False
    return nan, nan
