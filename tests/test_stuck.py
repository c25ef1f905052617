"""Stuck metrics (detector/stuck.py): runs of unchanged values in training and in the stream."""

import numpy as np

from detector.stuck import stuck, track, training_runs


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


def test_stuck_fires_once_when_the_last_varying_metric_outgrows_every_known_run():
    runs = np.array([5.0, np.nan, 5.0])  # the second metric never changed in training: left out
    longest = np.array([20.0, 0.0, 0.0])
    # the first metric is past its streamed record (20), the third crosses 12 (the floor) on this row
    assert stuck(np.array([25.0, 99.0, 13.0]), longest, runs, 12)
    assert not stuck(np.array([26.0, 99.0, 14.0]), longest, runs, 12)  # the row after: once per spell
    assert not stuck(np.array([21.0, 99.0, 12.0]), longest, runs, 12)  # the third is not stuck yet
    assert not stuck(np.array([20.0, 99.0, 13.0]), longest, runs, 12)  # the first one is not
    assert not stuck(np.array([25.0, 99.0, 13.0]), longest, runs, 0)  # off
    assert not stuck(np.array([25.0, 99.0, 13.0]), longest, None, 12)  # a model without runs
    assert not stuck(np.array([25.0, 99.0, 13.0]), longest, np.full(3, np.nan), 12)  # nothing varied
