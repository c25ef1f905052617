"""The drift offset's arithmetic (pure: a state and numbers, no model fitting)."""

import math
from types import SimpleNamespace

import numpy as np

from detector import drift
from detector.windows import EntityState

HOUR_MS = 3_600_000


def model(mean: float = 0.0, metrics: tuple[str, ...] = ("a", "b"), d: int = 4) -> SimpleNamespace:
    stack = SimpleNamespace(weights=[np.eye(d)], biases=[np.zeros(d)])
    return SimpleNamespace(
        metrics=metrics, feature_mean=np.full(d, mean), feature_scale=np.ones(d), encoder=stack, decoder=stack
    )


def test_it_applies_to_multi_metric_models_when_on():
    assert drift.applies(model(), 168.0)  # type: ignore[arg-type]
    assert not drift.applies(model(), 0.0)  # type: ignore[arg-type]
    assert not drift.applies(model(metrics=("a",)), 168.0)  # type: ignore[arg-type]


def test_the_offset_moves_half_way_in_one_half_life_of_event_time():
    st = EntityState.new(2, 5)
    m = model()
    fp = drift.fingerprint(m)  # type: ignore[arg-type]
    off = drift.offset_for(st, m, fp)  # type: ignore[arg-type]
    assert off.tolist() == [0.0] * 4 and st.drift_model == fp != 0
    ones = np.ones(4)
    half_h = 0.5
    drift.learn(st, ones, 0, half_h)  # the first row only starts the clock
    assert st.drift.tolist() == [0.0] * 4 and st.drift_ms == 0
    drift.learn(st, ones, HOUR_MS // 2, half_h)  # one half-life later
    np.testing.assert_allclose(st.drift, 0.5)
    drift.learn(st, ones, HOUR_MS // 2, half_h)  # no time elapsed: nothing learned
    drift.learn(st, np.array([np.nan, 1.0, 1.0, 1.0]), HOUR_MS, half_h)  # a non-finite residual: ignored
    np.testing.assert_allclose(st.drift, 0.5)
    # many small steps add up to the same decay as one large one: 100 steps over 2 hours, 4 half-lives
    for k in range(1, 101):
        drift.learn(st, ones, HOUR_MS // 2 + k * 72_000, half_h)
    np.testing.assert_allclose(st.drift, 1.0 - 0.5 * 2.0**-4, rtol=1e-9)
    assert math.isclose(st.drift_ms, HOUR_MS // 2 + 2 * HOUR_MS)
    back = EntityState.from_bytes(st.to_bytes())
    np.testing.assert_array_equal(back.drift, st.drift)  # float64 on the wire
    assert back.drift_model == fp


def test_a_glitch_or_the_first_row_after_an_outage_cannot_replace_the_offset():
    st = EntityState.new(2, 5)
    st.drift, st.drift_model, st.drift_ms = np.zeros(4), 1, 0
    week_h = 168.0
    per_hour = 1.0 - 2.0 ** (-1.0 / week_h)
    drift.learn(st, np.full(4, 1e4), 30 * 24 * HOUR_MS, week_h)  # after 30 days, a residual of 10^4
    # at most an hour's weight, and the residual clipped at RESIDUAL_CLIP
    np.testing.assert_allclose(st.drift, per_hour * drift.RESIDUAL_CLIP, rtol=1e-9)
    assert drift.MAX_STEP_MS == HOUR_MS


def test_an_offset_learned_under_another_model_or_shape_starts_again():
    st = EntityState.new(2, 5)
    a, b = model(0.0), model(1.0)
    fa, fb = drift.fingerprint(a), drift.fingerprint(b)  # type: ignore[arg-type]
    assert fa != fb
    drift.offset_for(st, a, fa)  # type: ignore[arg-type]
    st.drift[:] = 3.0
    st.drift_ms = 99
    assert drift.offset_for(st, a, fa).tolist() == [3.0] * 4  # type: ignore[arg-type]
    assert drift.offset_for(st, b, fb).tolist() == [0.0] * 4 and st.drift_ms == -1  # type: ignore[arg-type]
    st.drift[:] = 3.0
    wide = model(1.0, d=6)
    assert drift.offset_for(st, wide, fb).shape == (6,)  # type: ignore[arg-type]
    drift.clear(st)
    assert st.drift.shape == (0,) and (st.drift_model, st.drift_ms) == (0, -1)
