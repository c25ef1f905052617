"""The lean numpy path must equal the reference libraries (Keras predict, sklearn score_samples)."""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from detector.inference import ForestArrays


def test_forest_arrays_equal_sklearn_score_samples():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 6))
    forest = IsolationForest(n_estimators=50, max_samples=128, max_features=0.7, random_state=1).fit(x)
    probe = np.vstack([rng.normal(size=(500, 6)), rng.normal(5, 1, size=(20, 6))])
    np.testing.assert_allclose(
        ForestArrays.from_sklearn(forest).anomaly_score(probe), -forest.score_samples(probe), rtol=1e-12
    )


def test_model_equals_keras_and_sklearn_reference(fitted, cfg):
    from detector.engine import featurize
    from generator.simulate import FleetSpec
    from training.data import simulated_events

    x, _, _ = featurize(simulated_events(FleetSpec(hosts=5, seed=99), 120, 1_800_000_000_000, cfg), cfg)
    for pair in (fitted, *fitted.peers):  # every autoencoder -> Isolation Forest pair of the model
        m = pair.model
        xs = m.transform(x)
        ref_recon = pair.keras_model.predict(xs, verbose=0)
        np.testing.assert_allclose(m.decoder(m.encoder(xs)), ref_recon, rtol=1e-4, atol=1e-4)

        z = m.encoder(xs)
        log_err = np.log(np.mean((xs - m.decoder(z)) ** 2, axis=1) + 1e-9)
        ref_iso = -pair.forest.score_samples(np.column_stack([z, log_err]))
        np.testing.assert_allclose(m.forest.anomaly_score(np.column_stack([z, log_err])), ref_iso, rtol=1e-9)

    m = fitted.model
    batch = m.score(x)
    one_by_one = np.array([m.score(row).score[0] for row in x])
    np.testing.assert_allclose(batch.score, one_by_one, rtol=1e-9, atol=1e-12)  # BLAS batch vs row
    assert batch.metric_error.shape == (len(x), len(cfg.stream.metrics))


def test_the_model_averages_its_pairs_which_differ_by_seed(fitted, cfg):
    from detector.engine import featurize
    from generator.simulate import FleetSpec
    from training.data import simulated_events

    x, _, _ = featurize(simulated_events(FleetSpec(hosts=3, seed=11), 80, 1_800_000_000_000, cfg), cfg)
    m = fitted.model
    assert m.members == 3
    pairs = [m.score_pair(x), *(p.score_pair(x) for p in m.peers)]
    batch = m.score(x)
    for name in ("score", "iforest", "recon", "metric_error", "expected_last"):
        np.testing.assert_allclose(getattr(batch, name), np.mean([getattr(b, name) for b in pairs], axis=0))
    assert not np.allclose(pairs[0].score, pairs[1].score)  # other seeds: other weights, other scores
    assert not np.allclose(m.encoder.weights[0], m.peers[0].encoder.weights[0])

    restored = type(m).from_arrays(m.to_arrays(), "again")
    assert restored.members == 3
    np.testing.assert_allclose(restored.score(x).score, batch.score, rtol=1e-12)
    renamed = np.array([f"other_{name}" for name in m.metrics])  # same count, other metrics
    other = dict(m.to_arrays(), **{"peer2/metrics": renamed})
    with pytest.raises(ValueError, match="pair 3 was trained on other metrics"):
        type(m).from_arrays(other, "mixed")
    no_peers = {k: v for k, v in m.to_arrays().items() if "/" not in k and k != "peers"}
    alone = type(m).from_arrays(no_peers, "one pair")  # a model exported before peers
    assert alone.members == 1
    np.testing.assert_allclose(alone.score(x).score, pairs[0].score, rtol=1e-12)


def test_scores_are_higher_for_anomalies(fitted, cfg):
    from detector.engine import featurize
    from generator.simulate import FleetSpec
    from training.data import simulated_events

    x, _, _ = featurize(simulated_events(FleetSpec(hosts=3, seed=5), 80, 1_800_000_000_000, cfg), cfg)
    bad = x.copy()
    bad[:, 0] += 40  # cpu last value far off
    assert fitted.model.score(bad).score.mean() > fitted.model.score(x).score.mean() + 1
    assert (fitted.model.score(x).score < fitted.model.threshold).mean() > 0.98


@pytest.mark.parametrize("metrics", [["cpu_usage"], ["x", "y"]])
def test_detector_refuses_a_model_for_other_metrics(fitted, cfg, metrics):
    import copy

    from detector.engine import EntityDetector

    other = copy.deepcopy(cfg)
    other.stream.metrics = metrics
    with pytest.raises(ValueError, match="trained on metrics"):
        EntityDetector(other, fitted.model)


def test_one_metric_adds_at_most_its_cap_to_the_row_error(fitted, cfg):
    import dataclasses

    from detector.engine import featurize
    from detector.features import N_PER_METRIC
    from generator.simulate import FleetSpec
    from training.data import simulated_events

    m = fitted.model
    n_m = len(cfg.stream.metrics)
    assert m.metric_cap is not None and m.metric_cap.shape == (n_m,) and (m.metric_cap > 1e-3).all()
    x, _, _ = featurize(simulated_events(FleetSpec(hosts=2, seed=7), 60, 1_800_000_000_000, cfg), cfg)
    far, farther = x.copy(), x.copy()
    far[:, :N_PER_METRIC] += 1e3 * m.feature_scale[:N_PER_METRIC]  # metric 0 far outside training
    farther[:, :N_PER_METRIC] += 1e6 * m.feature_scale[:N_PER_METRIC]
    _, log_far, err_far, _ = m.reconstruct(far)
    _, log_farther, err_farther, _ = m.reconstruct(farther)
    assert (err_farther[:, 0] > err_far[:, 0] * 100).all()  # the per-metric errors stay uncapped
    for log_err, err in ((log_far, err_far), (log_farther, err_farther)):
        expected = np.log(np.minimum(err, m.metric_cap).sum(axis=1) / x.shape[1] + 1e-9)
        np.testing.assert_allclose(log_err, expected, rtol=1e-9)
    # 1,000x further out moves the capped row error only through the other metrics' reconstruction
    assert np.abs(log_farther - log_far).max() < 0.5

    uncapped = dataclasses.replace(m, metric_cap=None)  # a model exported before the cap
    _, log_uncapped, _, _ = uncapped.reconstruct(farther)
    assert (log_uncapped > log_farther + 5).all()
    restored = type(m).from_arrays({k: v for k, v in m.to_arrays().items() if k != "metric_cap"}, "old")
    assert restored.metric_cap is None


def test_a_metric_flat_in_training_is_capped_like_a_typical_metric_not_silenced():
    from training.train import TrainParams, metric_caps

    rng = np.random.default_rng(0)
    err = rng.gamma(2.0, 1.0, size=(4000, 5)) * np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    err[:, 0] = 0.0  # flat in training: its held-out error is zero
    caps = metric_caps(err, TrainParams())
    own = 10 * np.quantile(err, 0.999, axis=0)
    assert caps[0] == pytest.approx(np.median(own), rel=1e-6)  # raised to the median metric's cap
    np.testing.assert_allclose(caps[3:], own[3:], rtol=1e-6)  # metrics above the median keep their own


def test_a_model_file_with_a_wrong_sized_cap_is_refused(fitted):
    arrays = fitted.model.to_arrays()
    arrays["metric_cap"] = arrays["metric_cap"][:-1]
    with pytest.raises(ValueError, match="metric_cap has shape"):
        type(fitted.model).from_arrays(arrays, "bad")


def test_fit_refuses_a_negative_metric_cap(cfg):
    from training.train import TrainParams, fit

    with pytest.raises(ValueError, match="metric_cap"):
        fit(np.ones((300, 14 * len(cfg.stream.metrics))), cfg, TrainParams(metric_cap=-1.0), progress=False)


def test_the_model_keeps_the_range_of_its_training_rows(fitted, cfg):
    from detector.engine import featurize
    from generator.simulate import FleetSpec
    from training.data import simulated_events

    x, _, _ = featurize(simulated_events(FleetSpec(hosts=40, seed=42), 500, 1_700_000_000_000, cfg), cfg)
    last = x[:, 0::14]  # each metric's ``last`` feature: its value
    vr = fitted.model.value_range
    assert vr is not None and vr.shape == (2, len(cfg.stream.metrics))
    np.testing.assert_array_equal(vr, np.array([last.min(axis=0), last.max(axis=0)], dtype=np.float32))
    arrays = fitted.model.to_arrays()
    np.testing.assert_array_equal(type(fitted.model).from_arrays(arrays, "again").value_range, vr)
    old = {k: v for k, v in arrays.items() if k != "value_range"}  # exported before range breaks
    assert type(fitted.model).from_arrays(old, "old").value_range is None
    with pytest.raises(ValueError, match="value_range has shape"):
        type(fitted.model).from_arrays(dict(arrays, value_range=vr[:, :-1]), "bad")
    # the longest runs of one value likewise (stuck entities)
    runs = fitted.model.value_runs
    assert runs is not None and runs.shape == (len(cfg.stream.metrics),)
    np.testing.assert_array_equal(type(fitted.model).from_arrays(arrays, "again").value_runs, runs)
    assert (
        type(fitted.model)
        .from_arrays({k: v for k, v in arrays.items() if k != "value_runs"}, "old")
        .value_runs
        is None
    )
    with pytest.raises(ValueError, match="value_runs has shape"):
        type(fitted.model).from_arrays(dict(arrays, value_runs=runs[:-1]), "bad")


def test_range_break_kernel_equals_plain_numpy():
    from detector.value_range import check_and_extend

    rng = np.random.default_rng(3)
    for _ in range(200):
        n = 4
        values = rng.normal(size=n) * 3
        model = rng.normal(size=(2, n))
        model.sort(axis=0)
        seen = rng.normal(size=(2, n))
        seen.sort(axis=0)
        seen[:, rng.random(n) < 0.3] = np.nan  # nothing streamed yet
        seen[:, rng.random(n) < 0.2] = 0.5  # a zero-width streamed range
        use_model = rng.random() < 0.5
        tol = float(rng.choice([0.0, 0.05, 0.2]))
        values = values.astype(np.float32).astype(np.float64)  # the kernel works at the state's precision
        low = np.fmin(model[0], seen[0]) if use_model else seen[0]
        high = np.fmax(model[1], seen[1]) if use_model else seen[1]
        width = high - low
        with np.errstate(invalid="ignore", divide="ignore"):
            beyond = np.maximum(values - high, low - values) / (tol * width)
        want = np.where((tol > 0) & (width > 0) & (beyond > 0), beyond, 0.0)
        lo, hi = seen[0].copy(), seen[1].copy()
        got = check_and_extend(values, model if use_model else None, lo, hi, tol)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_array_equal(lo, np.fmin(seen[0], values))  # the streamed range grew
        np.testing.assert_array_equal(hi, np.fmax(seen[1], values))


def test_range_breaks_survive_the_state_round_trip_and_hostile_values():
    """The entity state stores the range as float32: a value already seen must not break it after a
    reload; a value beyond float32, NaN, or a vanishingly narrow range must not poison it or overflow."""
    from detector.value_range import check_and_extend
    from detector.windows import EntityState

    st = EntityState.new(1, 5)
    for v in (1e6, 1e6 + 0.53):
        check_and_extend(np.array([v]), None, st.seen_low, st.seen_high, 0.05)
    back = EntityState.from_bytes(st.to_bytes())
    assert check_and_extend(np.array([1e6 + 0.53]), None, back.seen_low, back.seen_high, 0.05)[0] == 0.0
    low, high = np.array([0.0]), np.array([1.0])
    for hostile in (1e39, -1e39, np.nan, np.inf):
        assert check_and_extend(np.array([hostile]), None, low, high, 0.05)[0] == 0.0
        assert (low[0], high[0]) == (0.0, 1.0)  # the range is unchanged
    tiny = check_and_extend(np.array([2.0]), None, np.array([0.0]), np.array([1e-300]), 0.05)
    assert np.isfinite(tiny).all() and tiny[0] > 1.0
    assert check_and_extend(np.array([2.0]), None, np.array([0.0]), np.array([1e-10]), 1e-315)[0] == 0.0
