"""Training options the evaluation relies on: a reused Keras graph fits exactly like a fresh model,
warm starts continue from the previous weights, short series are accepted with a lower minimum."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evaluation.harness import eval_config
from training.train import TrainParams, epochs_for, fit


def test_reused_graph_fits_exactly_like_a_fresh_one():
    cfg = eval_config(1)
    x = np.random.default_rng(0).normal(size=(300, 11))
    other = np.random.default_rng(1).normal(size=(300, 11))
    fresh = fit(x, cfg, TrainParams(epochs=3, min_steps=0, min_rows=60), progress=False).model
    reuse = TrainParams(epochs=3, min_steps=0, min_rows=60, reuse_graph=True)
    fit(other, cfg, reuse, progress=False)  # leaves trained weights and optimizer state behind
    again = fit(x, cfg, reuse, progress=False).model
    for a, b in zip(
        fresh.encoder.weights + fresh.decoder.weights,
        again.encoder.weights + again.decoder.weights,
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert again.threshold == fresh.threshold


def test_warm_start_continues_training():
    cfg = eval_config(1)
    x = np.random.default_rng(2).normal(size=(300, 11))
    params = TrainParams(epochs=2, min_steps=0, min_rows=60)
    first = fit(x, cfg, params, progress=False)
    w0 = [w.copy() for w in first.model.encoder.weights]
    second = fit(x[::-1].copy(), cfg, params, progress=False, warm_start=first)
    assert second.keras_model is first.keras_model
    assert [p.keras_model for p in second.peers] == [p.keras_model for p in first.peers]
    assert any(not np.allclose(a, b) for a, b in zip(w0, second.model.encoder.weights, strict=True))


def test_small_training_sets_get_at_least_min_steps():
    p = TrainParams(epochs=40, batch_size=256, min_steps=3000)
    assert epochs_for(450, p) == 1500  # 2 batches per pass
    assert epochs_for(21_000, p) == 40  # 83 batches x 40 passes already exceed min_steps
    assert epochs_for(450, TrainParams(epochs=40, min_steps=0)) == 40
    x = np.random.default_rng(3).normal(size=(300, 11))
    fitted = fit(x, eval_config(1), TrainParams(epochs=1, min_steps=50, min_rows=60), progress=False)
    assert fitted.summary["epochs"] == 50  # 225 training rows: one batch per pass


@pytest.mark.parametrize("flags", [["--min-steps", "-1"], ["--epochs", "0"], ["--members", "0"]])
def test_train_cli_rejects_impossible_training_lengths(flags, capsys):
    from training.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--source", "simulated", "--hosts", "1", "--steps", "10", *flags])
    assert exit_info.value.code == 2
    assert "--min-steps at least 0" in capsys.readouterr().err


def test_members_are_fitted_with_their_own_seeds_and_a_single_pair_has_no_peers():
    cfg = eval_config(1)
    x = np.random.default_rng(4).normal(size=(300, 11))
    base = TrainParams(epochs=1, min_steps=0, min_rows=60)
    trio = fit(x, cfg, base, progress=False)
    assert base.members == 3 and trio.model.members == 3 and len(trio.peers) == 2
    assert trio.summary["members"] == 3 and len(trio.summary["pairs"]) == 3
    assert trio.summary["pairs"][1] == trio.peers[0].summary
    # the second pair is exactly the pair a one-pair fit makes with seed + 1000
    alone = fit(x, cfg, dataclasses.replace(base, seed=base.seed + 1000, members=1), progress=False)
    assert alone.model.members == 1 and not alone.peers
    for a, b in zip(trio.model.peers[0].encoder.weights, alone.model.encoder.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="members"):
        fit(x, cfg, dataclasses.replace(base, members=0), progress=False)


def test_batched_steps_give_the_same_weights_as_one_step_per_call(monkeypatch):
    """``STEPS_PER_EXECUTION`` only saves Python dispatch: the fit must not change, including a last
    call with fewer steps than the batch (here 300 steps = 256 + 44)."""
    import training.train as train

    cfg = eval_config(1)
    x = np.random.default_rng(0).normal(size=(300, 11))
    params = TrainParams(epochs=1, min_steps=300, min_rows=60)
    batched = fit(x, cfg, params, progress=False).model
    monkeypatch.setattr(train, "STEPS_PER_EXECUTION", 1)
    single = fit(x, cfg, params, progress=False).model
    for a, b in zip(
        batched.encoder.weights + batched.decoder.weights,
        single.encoder.weights + single.decoder.weights,
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_tensorflow_start_up_lines_are_hidden_unless_the_user_chose_a_level(monkeypatch):
    import os

    from training.train import quiet_tensorflow_logs

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    quiet_tensorflow_logs()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    quiet_tensorflow_logs()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
