"""``sentinel-eval replay``: a run's saved scores through the job's alert rule again. With the run's own
settings it must reproduce the run exactly; with others it must apply them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from detector.config import AlertConfig
from evaluation.cli import main as eval_main
from evaluation.harness import SentinelDetector, default_params, run_series
from evaluation.replay import replay_stream
from tests.test_eval_harness import matrix_dir, nab_dir, series


@pytest.fixture(scope="module")
def run():
    """Our detector (one pair, for speed: the rule does not care) online over a series whose last rows
    jump out of range, so the run has k-of-n anomalies, range breaks and episode starts."""
    values, times = series(420)
    params = dataclasses.replace(default_params(), members=1)
    return run_series(SentinelDetector(1, params=params), values, times, first_fit=100)["sentinel"]


def test_the_replay_with_the_runs_settings_reproduces_its_alerts_and_episode_starts(run):
    inputs = run.rule_inputs
    assert inputs is not None
    assert (inputs["range_excess"] > 0).any() and (run.alert > 0).sum() > (inputs["range_excess"] > 0).sum()
    assert run.onset is not None and 0 < run.onset.sum() < run.alert.sum()
    score, alert, onset = replay_stream(
        inputs["model_score"], inputs["range_excess"], run.row_threshold, AlertConfig()
    )
    np.testing.assert_allclose(score, run.score, rtol=0, atol=1e-5)  # records round scores to 6 places
    np.testing.assert_array_equal(alert, run.alert)
    np.testing.assert_array_equal(onset, run.onset)


def test_the_replay_applies_other_settings(run):
    inputs = run.rule_inputs
    assert inputs is not None
    ms, rx, th = inputs["model_score"], inputs["range_excess"], run.row_threshold
    _, one_of_one, _ = replay_stream(ms, rx, th, AlertConfig(k=1, n=1))
    assert (one_of_one >= run.alert).all() and one_of_one.sum() > run.alert.sum()
    assert one_of_one[np.isfinite(ms)].tolist() == ((ms > th) | (rx > 0))[np.isfinite(ms)].tolist()
    _, never, _ = replay_stream(ms, rx, np.full(len(th), np.inf), AlertConfig())
    np.testing.assert_array_equal(never, (rx > 0).astype(np.int8))  # only range breaks alert at once
    higher = replay_stream(ms, rx, th * 2, AlertConfig())[0]
    breaks = rx > 0
    assert (higher[breaks] >= run.score[breaks] - 1e-5).all() and (higher[breaks] > run.score[breaks]).any()


def test_replay_command_reproduces_a_nab_run_and_writes_a_changed_one(tmp_path, capsys):
    data = nab_dir(tmp_path)
    out = tmp_path / "r.json"
    common = ["--jobs", "1", "--quiet", "--members", "1"]
    assert eval_main(["nab", "--data", str(data), "--out", str(out), *common]) == 0
    ran = json.loads(out.read_text())["nab"]
    assert eval_main(["replay", "--run", str(out), "--out", str(tmp_path / "same.json")]) == 0
    same = json.loads((tmp_path / "same.json").read_text())
    assert same["settings"] == {"threshold": None, "k": 4, "n": 4, "episode_gap": 30, "episode_max_gap": 120}
    for key in ("standard", "reward_low_fp", "reward_low_fn", "windows_detected", "false_positives"):
        assert same["nab"]["replay"][key] == same["nab"]["run"][key] == ran[key]
    argv = ["replay", "--run", str(out), "--out", str(tmp_path / "lax.json"), "--threshold", "0.5"]
    assert eval_main([*argv, "--k", "1", "--n", "1"]) == 0
    lax = json.loads((tmp_path / "lax.json").read_text())
    assert lax["settings"]["threshold"] == 0.5 and lax["settings"]["k"] == 1
    assert same["nab"]["replay"]["anomalies"] == same["nab"]["run"]["anomalies"] > 0
    assert lax["nab"]["replay"]["anomalies"] > same["nab"]["replay"]["anomalies"]
    assert "nab replay" in capsys.readouterr().err


def test_replay_command_reproduces_a_matrix_run(tmp_path):
    out = tmp_path / "m.json"
    argv = ["matrix", "--data", str(matrix_dir(tmp_path)), "--out", str(out), "--seeds", "none"]
    assert eval_main([*argv, "--jobs", "1", "--quiet", "--members", "1"]) == 0
    ran = json.loads(out.read_text())["matrix"]
    assert ran["recall"] > 0  # the labelled rows alert, so the replay has something to reproduce
    assert eval_main(["replay", "--run", str(out), "--out", str(tmp_path / "same.json")]) == 0
    same = json.loads((tmp_path / "same.json").read_text())["matrix"]
    for key in ("f1_pointwise", "precision", "recall"):
        assert same["replay"][key] == same["run"][key] == ran[key]
    assert (
        eval_main(["replay", "--run", str(out), "--out", str(tmp_path / "x.json"), "--threshold", "99"]) == 0
    )
    strict = json.loads((tmp_path / "x.json").read_text())["matrix"]["replay"]
    assert strict["recall"] < ran["recall"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--k", "5"], "alert.k must be between 1 and alert.n"),
        (["--n", "9", "--k", "2"], "alert.n must be at most 8"),
        (["--episode-gap", "0"], "alert.episode_gap must be between 1 and 255"),
        (["--threshold", "nan"], "--threshold must be a positive number, got nan"),
        (["--run", "nowhere/r.json"], "nowhere/r/run.json: missing"),
    ],
)
def test_replay_refuses_bad_settings_and_missing_runs(tmp_path, capsys, argv, message):
    assert eval_main(["replay", "--out", str(tmp_path / "x.json"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_replay_carries_the_rule_counters_over_from_the_warm_up_rows(tmp_path):
    """A matrix run warms the state on the last training rows, and the k-of-n flags and episode counters
    they leave decide the first test rows. The replay runs the rule over the saved warm-up rows first."""
    from evaluation.harness import SeriesScores, run_matrix
    from evaluation.replay import RawRun, ReplaySettings
    from evaluation.runs import raw_arrays

    # the last four warm-up rows above the threshold open an episode: the first test row above it is an
    # anomaly of that episode (4 of 4 at once, no new episode start); from fresh counters it is neither
    warm = {"model_score": np.array([0.5, 2.0, 2.0, 2.0, 2.0]), "range_excess": np.zeros(5)}
    test_score = np.array([2.0, 0.5, 0.5, 0.5])
    saved = SeriesScores(
        test_score,
        np.zeros(4, dtype=np.int8),
        1.5,
        row_threshold=np.full(4, 1.5),
        onset=np.zeros(4, dtype=np.int8),
        rule_inputs={"model_score": test_score, "range_excess": np.zeros(4)},
        warm_inputs=dict(warm, threshold=np.full(5, 1.5)),
    )
    path = tmp_path / "hand.npz"
    np.savez(path, **raw_arrays("e", saved))
    again = RawRun(path).replay("e", ReplaySettings())
    assert (
        again.alert.tolist() == [1, 0, 0, 0] and again.onset is not None and again.onset.tolist() == [0] * 4
    )
    # a --threshold applies to the warm-up rows too: saved at 2.5 there, the warm-up alone opens nothing
    assert saved.warm_inputs is not None
    saved.warm_inputs["threshold"] = np.full(5, 2.5)
    np.savez(path, **raw_arrays("e", saved))
    own = RawRun(path).replay("e", ReplaySettings())
    assert own.alert.tolist() == [0] * 4 and own.onset is not None and own.onset.tolist() == [0] * 4
    assert RawRun(path).replay("e", ReplaySettings(threshold=1.5)).alert.tolist() == [1, 0, 0, 0]

    # a real matrix run saves its warm-up rows (the carry-over itself is tested above), and the replay
    # reproduces the run
    rng = np.random.default_rng(2)
    train, test = rng.random((300, 3)), rng.random((200, 3))
    test[100:110] += 3
    params = dataclasses.replace(default_params(), members=1)
    ran = run_matrix(SentinelDetector(3, params=params), train, test)["sentinel"]
    assert ran.warm_inputs is not None and len(ran.warm_inputs["model_score"]) == 300 and ran.alert.any()
    path = tmp_path / "sentinel.npz"
    np.savez(path, **raw_arrays("e", ran))
    again = RawRun(path).replay("e", ReplaySettings())
    np.testing.assert_array_equal(again.alert, ran.alert)
    assert ran.onset is not None and again.onset is not None
    np.testing.assert_array_equal(again.onset, ran.onset)


def test_a_frozen_stretch_is_stuck_once_across_a_refit_and_the_replay_reproduces_it():
    """A series frozen over rows 150-259 (the refit at row 200 learns part of the spell as a run): one
    stuck row, and the replay with the run's own settings reproduces every alert and episode start."""
    values, times = series(420)
    values[150:260] = values[150]
    params = dataclasses.replace(default_params(), members=1)
    run = run_series(SentinelDetector(1, params=params), values, times, first_fit=100)["sentinel"]
    inputs = run.rule_inputs
    assert inputs is not None and inputs["stuck"].sum() == 1
    (row,) = np.flatnonzero(inputs["stuck"])
    assert 150 < row < 200 and run.alert[row] == 1 and run.onset is not None and run.onset[row] == 1
    score, alert, onset = replay_stream(
        inputs["model_score"], inputs["range_excess"], run.row_threshold, AlertConfig(), inputs["stuck"]
    )
    np.testing.assert_allclose(score, run.score, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(alert, run.alert)
    np.testing.assert_array_equal(onset, run.onset)


def test_the_replay_alerts_at_once_on_a_stuck_row_as_the_engine_does():
    from detector.config import AlertConfig
    from evaluation.replay import replay_stream

    model_score = np.array([0.1, 0.2, 0.1, 0.1, 3.0])
    th = np.full(5, 1.5)
    stuck = np.array([0, 1, 0, 0, 0], dtype=np.int8)
    score, alert, onset = replay_stream(model_score, np.zeros(5), th, AlertConfig(), stuck)
    assert alert.tolist() == [0, 1, 0, 0, 0] and onset.tolist() == [0, 1, 0, 0, 0]
    assert score[1] == 1.5 * 1.5 and score[0] == 0.1
    # saved runs before stuck detection existed have no stuck rows: nothing alerts at once
    assert replay_stream(model_score, np.zeros(5), th, AlertConfig())[1].tolist() == [0] * 5
