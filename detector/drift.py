"""Drift offset: what an entity keeps doing for weeks becomes its new normal.

A model is trained once on a stretch of history; a metric that later settles at a new level (a
counter reset, a config change, a new release) is then off for as long as it stays there, and pages
for nothing or drowns real incidents (SMD machine-1-6: its normal test minutes score at the
threshold). Each entity keeps an exponentially weighted mean of the model's standardised
reconstruction residual per feature, with a half-life in event time (``window.drift_halflife_h``,
a week by default); the model subtracts it from every pair's residual before it sums the errors.
A level that holds for a week is half absorbed; an incident of a few hours moves the offset about 1%
of the way towards it (3 h: 1.2%), and a range break (news, not yet normal) teaches it nothing.
Without drift the offset stays near zero and scores do not change.

It applies to models of two or more metrics: there one metric's drift is judged against the others
that did not drift. A single-metric model has nothing to judge it against, and in evaluation it is
refitted on its recent past instead (``evaluation.harness.run_series``).

The offset belongs to the model it was learned under (the first pair's residual, applied to every
pair): a reloaded model starts from zero (:func:`offset_for`).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from detector.model import DetectionModel
from detector.windows import EntityState

_MS_PER_HOUR = 3_600_000
RESIDUAL_CLIP = 50.0
"""Largest residual (standardised units) one row teaches the offset: a glitch (a value sent in bytes
instead of MB) stays in the window features for ``window.long`` rows and must not move a week's offset."""
MAX_STEP_MS = _MS_PER_HOUR
"""Most event time one row's weight stands for: the first row after an outage (often a restart transient)
must not replace an offset learned over weeks."""


def applies(model: DetectionModel, halflife_h: float) -> bool:
    """Whether entities scored by ``model`` keep a drift offset (on, and two or more metrics)."""
    return halflife_h > 0 and len(model.metrics) > 1


def fingerprint(model: DetectionModel) -> int:
    """A 32-bit digest of the first pair (its scaler and its autoencoder's weights), whose residual the
    offset learns: an offset learned under another model is void."""
    parts = [model.feature_mean, model.feature_scale]
    for stack in (model.encoder, model.decoder):
        parts += [*stack.weights, *stack.biases]
    digest = 0
    for a in parts:
        digest = zlib.crc32(np.ascontiguousarray(a, dtype=np.float64).tobytes(), digest)
    return digest or 1  # 0 marks "none" in the state


def offset_for(state: EntityState, model: DetectionModel, model_fingerprint: int) -> np.ndarray:
    """The entity's offset (n_features,) for ``model``; zeros (and a reset state) when it was learned
    under another model, has another length, or none was learned yet."""
    d = model.feature_mean.shape[0]
    if state.drift_model != model_fingerprint or state.drift.shape != (d,):
        state.drift = np.zeros(d)
        state.drift_model = model_fingerprint
        state.drift_ms = -1
    return state.drift


def clear(state: EntityState) -> None:
    """No offset (the model has none, or it was turned off): the state drops it."""
    if state.drift_model or len(state.drift):
        state.drift = np.zeros(0)
        state.drift_model = 0
        state.drift_ms = -1


def learn(state: EntityState, residual: np.ndarray, timestamp_ms: int, halflife_h: float) -> None:
    """Move the offset towards this row's residual (clipped to +-``RESIDUAL_CLIP``) by the weight its
    time since the last row earns (at most ``MAX_STEP_MS`` of it; a half-life of ``halflife_h`` hours of
    event time; a row at the same time or earlier: none)."""
    if state.drift_ms < 0:
        state.drift_ms = timestamp_ms
        return  # no elapsed time to weigh yet: the first row only starts the clock
    dt = timestamp_ms - state.drift_ms
    if dt <= 0 or not np.isfinite(residual).all():  # a non-finite residual would void the offset for good
        return
    a = 1.0 - math.exp(-math.log(2.0) * min(dt, MAX_STEP_MS) / (halflife_h * _MS_PER_HOUR))
    state.drift += a * (np.clip(residual, -RESIDUAL_CLIP, RESIDUAL_CLIP) - state.drift)
    state.drift_ms = timestamp_ms
