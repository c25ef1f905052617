"""Stuck entities: values that have not changed for longer than they ever stayed unchanged before.

A metric that stops moving usually means its collector or the thing it measures stopped (a dead agent
repeating its last reading, a frozen counter, a process that no longer writes), and the model cannot see
it: a flat line is the most ordinary shape there is. Monitoring systems have a rule for it (Prometheus'
``changes(m[1h]) == 0``); ours needs no duration to be set per metric: each metric's longest run of
identical values in training and in what the entity streamed is its own yardstick. The entity is stuck
when every metric that changed in training has gone unchanged for longer than all its known runs (and
than ``alert.stuck_rows``): an anomaly at once, once per stuck spell. Every metric, because a record run
of one metric among many is common by chance (SMD's machines, ~33 varying metrics each, set 3 to 25 in
a test period as long as their training: one metric being enough paged 33% more on SMD, 3 of 51 times on
an anomaly), while an entity whose every metric froze is rare (never on SMD's six machines).
For a single metric the two are the same. A metric that never changed in training is flat by nature and
is left out. No Flink or Redis here: the entity state keeps the runs (:func:`track`) and whether it was
:func:`frozen` at its last scored row, training takes each metric's longest run from its rows
(:func:`training_runs`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.kernels import runs_frozen, track_runs

STUCK_SCORE = 1.5
"""A stuck row's record score, in multiples of the threshold, unless the model scores it higher: being
stuck is a fact, not a degree, and this keeps it above the threshold (severity "major")."""

RUN_MAX = float(2**24)
"""Run lengths saturate here: float32 (the state's wire format) counts exactly up to 2**24."""


def track(run: np.ndarray, longest: np.ndarray, previous: np.ndarray, values: np.ndarray) -> None:
    """Per metric, in place: ``run`` counts the rows ``values`` has repeated ``previous`` (1 for a new
    value), and a run that ends raises ``longest`` (the longest finished run streamed). Compared at
    float32 precision, the state's, so a restored state continues the same run."""
    track_runs(run, longest, previous, values, RUN_MAX)


def frozen(run: np.ndarray, longest: np.ndarray, model_runs: np.ndarray | None, min_rows: int) -> bool:
    """Whether every metric that changed in training (finite ``model_runs``) has gone unchanged for more
    rows than ``min_rows`` and than every run known for it (its model run and the streamed ``longest``).
    False for a model without runs (None) or one whose metrics were all constant in training, and when
    ``min_rows`` is 0 (off). The entity is stuck on the scored row it becomes frozen (the engine keeps
    whether the previous scored row was), so once per spell, also when the row that crossed was not
    scored (warm-up) or a reloaded model moved the limits."""
    if model_runs is None or min_rows <= 0:
        return False
    return bool(runs_frozen(run, longest, model_runs, float(min_rows)))


def training_runs(groups: Sequence[np.ndarray]) -> np.ndarray:
    """(n_metrics,) each metric's longest run of identical consecutive values over ``groups`` (per entity,
    rows (n, n_metrics) in time order; a run still going at a group's end counts too), at float32
    precision; NaN for a metric that never changed (one value in every group)."""
    n_metrics = groups[0].shape[1] if groups else 0
    longest = np.zeros(n_metrics)
    varied = np.zeros(n_metrics, dtype=bool)
    for g in groups:
        v = np.asarray(g, dtype=np.float32)
        for m in range(n_metrics if len(v) else 0):
            changes = np.flatnonzero(v[1:, m] != v[:-1, m])  # a run ends after each of these rows
            varied[m] |= len(changes) > 0
            ends = np.concatenate([[-1], changes, [len(v) - 1]])
            longest[m] = max(longest[m], float(np.diff(ends).max()))
    return np.where(varied, np.minimum(longest, RUN_MAX), np.nan)
