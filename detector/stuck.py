"""Stuck metrics: a value that has not changed for longer than it ever stayed unchanged before.

A metric that stops moving usually means its collector or the thing it measures stopped (a dead agent
repeating its last reading, a frozen counter, a process that no longer writes), and the model cannot see
it: a flat line is the most ordinary shape there is. Monitoring systems have a rule for it (Prometheus'
``changes(m[1h]) == 0``); ours needs no duration to be set per metric: each metric's longest run of
identical values in training and in what the entity streamed is its own yardstick, and a run longer than
every one of them (and than ``alert.stuck_rows``) is an anomaly at once, once per run. A metric that never
changed in training is flat by nature and is never stuck. No Flink or Redis here: the entity state keeps
the runs (:func:`track`), training takes each metric's longest run from its rows (:func:`training_runs`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STUCK_SCORE = 1.5
"""A stuck row's record score, in multiples of the threshold, unless the model scores it higher: a stuck
metric is a fact, not a degree, and this keeps it above the threshold (severity "major")."""

RUN_MAX = float(2**24)
"""Run lengths saturate here: float32 (the state's wire format) counts exactly up to 2**24."""


def track(run: np.ndarray, longest: np.ndarray, previous: np.ndarray, values: np.ndarray) -> None:
    """Per metric, in place: ``run`` counts the rows ``values`` has repeated ``previous`` (1 for a new
    value), and a run that ends raises ``longest`` (the longest finished run streamed). Compared at
    float32 precision, the state's, so a restored state continues the same run."""
    same = values.astype(np.float32) == previous.astype(np.float32)  # False where either is NaN
    np.maximum(longest, np.where(same, 0.0, run), out=longest)
    np.copyto(run, np.where(same, np.minimum(run + 1.0, RUN_MAX), 1.0))


def stuck(run: np.ndarray, longest: np.ndarray, model_runs: np.ndarray | None, min_rows: int) -> np.ndarray:
    """Per metric: True on the one row where its current run becomes longer than ``min_rows`` and than
    every run known (the model's ``model_runs`` and the streamed ``longest``). Never for a metric whose
    model run is NaN (constant in training), for a model without runs (None), or when ``min_rows`` is 0
    (off)."""
    if model_runs is None or min_rows <= 0:
        return np.zeros(len(run), dtype=bool)
    limit = np.fmax(np.maximum(longest, float(min_rows)), model_runs)
    return np.isfinite(model_runs) & (run == limit + 1.0)


def training_runs(groups: Sequence[np.ndarray]) -> np.ndarray:
    """(n_metrics,) each metric's longest run of identical consecutive values over ``groups`` (per entity,
    rows (n, n_metrics) in time order; a run still going at a group's end counts too), at float32
    precision; NaN for a metric that never changed (one value in every group)."""
    n_metrics = groups[0].shape[1] if groups else 0
    longest = np.zeros(n_metrics)
    varied = np.zeros(n_metrics, dtype=bool)
    for g in groups:
        v = np.asarray(g, dtype=np.float32)
        if not len(v):
            continue
        run = np.ones(n_metrics)
        best = np.ones(n_metrics)
        for i in range(1, len(v)):
            same = v[i] == v[i - 1]
            varied |= ~same
            run = np.where(same, run + 1.0, 1.0)
            np.maximum(best, run, out=best)
        np.maximum(longest, best, out=longest)
    return np.where(varied, np.minimum(longest, RUN_MAX), np.nan)
