"""Stuck metrics (detector/stuck.py): runs of unchanged values in training and in the stream."""

import numpy as np

from detector.stuck import frozen, track, training_runs
from training.train import entity_rows


def test_training_runs_are_per_entity_and_nan_for_a_metric_that_never_changed():
    a = np.array([[1.0, 5.0], [1.0, 5.0], [2.0, 5.0], [2.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    b = np.array([[4.0, 5.0], [4.0, 5.0], [4.0, 5.0], [4.0, 5.0]])  # a run still going at the end counts
    runs = training_runs([a, b])
    assert runs[0] == 4.0 and np.isnan(runs[1])
    # rows of two entities are not one run, even when one ends with the other's first value
    assert training_runs([np.array([[1.0], [2.0], [7.0]]), np.array([[7.0], [8.0]])]).tolist() == [1.0]
    # float32 precision, as the state compares: values equal in float32 are one run
    assert training_runs([np.array([[0.1], [0.1 + 1e-12], [0.3]])]).tolist() == [2.0]


def test_track_counts_the_current_run_and_keeps_the_longest_finished_one():
    run, longest = np.zeros(2), np.zeros(2)
    previous = np.full(2, np.nan)
    for row in ([1.0, 1.0], [1.0, 2.0], [1.0, 2.0], [3.0, 2.0], [np.nan, 2.0]):
        values = np.array(row)
        track(run, longest, previous, values)
        previous = values
    assert run.tolist() == [1.0, 4.0] and longest.tolist() == [3.0, 1.0]


def test_frozen_when_every_varying_metric_is_past_every_known_run():
    runs = np.array([5.0, np.nan, 5.0])  # the second metric never changed in training: left out
    longest = np.array([20.0, 0.0, 0.0])
    # the first metric is past its streamed record (20), the third past 12 (the floor)
    assert frozen(np.array([25.0, 1.0, 13.0]), longest, runs, 12)
    assert not frozen(np.array([21.0, 99.0, 12.0]), longest, runs, 12)  # the third is not yet
    assert not frozen(np.array([20.0, 99.0, 13.0]), longest, runs, 12)  # the first one is not
    assert not frozen(np.array([25.0, 99.0, 13.0]), longest, runs, 0)  # off
    assert not frozen(np.array([25.0, 99.0, 13.0]), longest, None, 12)  # a model without runs
    assert not frozen(np.array([25.0, 99.0, 13.0]), longest, np.full(3, np.nan), 12)  # nothing varied


def test_training_runs_follow_each_entitys_rows_in_training():
    """``fit(keys=...)`` groups rows per entity with ``entity_rows``: interleaved entities are not one run."""
    keys = ["h1", "h2"] * 4
    values = np.array([[1.0], [5.0], [1.0], [6.0], [1.0], [7.0], [2.0], [8.0]])  # h1: 1,1,1,2; h2: 5-8
    groups = [values[idx] for idx in entity_rows(len(values), keys)]
    assert training_runs(groups).tolist() == [3.0]
    assert training_runs([values]).tolist() == [1.0]  # as one entity: no value repeats row to row


def test_the_compiled_kernels_equal_plain_numpy():
    rng = np.random.default_rng(5)
    for _ in range(300):
        m = int(rng.integers(1, 6))
        run = rng.integers(0, 30, size=m).astype(float)
        longest = rng.integers(0, 30, size=m).astype(float)
        previous = rng.choice([0.1, 0.2, np.nan], size=m)
        values = rng.choice([0.1, 0.2, np.nan], size=m)
        model_runs = rng.choice([5.0, 20.0, np.nan], size=m)
        same = values.astype(np.float32) == previous.astype(np.float32)
        want_longest = np.maximum(longest, np.where(same, 0.0, run))
        want_run = np.where(same, run + 1.0, 1.0)
        varying = np.isfinite(model_runs)
        limit = np.fmax(np.maximum(longest, 12.0), model_runs)
        want_frozen = bool(varying.any() and (run[varying] > limit[varying]).all())
        assert frozen(run, longest, model_runs, 12) == want_frozen
        track(run, longest, previous, values)
        np.testing.assert_array_equal(run, want_run)
        np.testing.assert_array_equal(longest, want_longest)
