"""The seasonal stage: period detection, residuals (streamed and offline alike), calibration, the
model's arrays, and a broken daily cycle that the seasonal stage flags and the autoencoder alone does not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from detector.engine import EntityDetector
from detector.events import MetricEvent
from detector.model import DetectionModel
from detector.model_store import MODEL_FORMAT, load_model
from detector.seasonal import (
    SeasonalModel,
    dominant_period,
    dominant_period_of,
    fit_seasonal,
    regular_step_ms,
    residuals,
    residuals_and_reference,
    series_residuals,
)
from detector.windows import EntityState, observe
from evaluation.harness import eval_config
from training.train import FittedModel, TrainParams, export, fit, seasonal_stage

PERIOD = 48


def cycle(days: int, seed: int = 0, skip_day: int | None = None) -> np.ndarray:
    """A noisy daily cycle of PERIOD rows: a low night and a busy plateau from row 20 to 32 of each day
    (``skip_day``: that day's plateau does not come)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * PERIOD)
    busy = ((t % PERIOD) >= 20) & ((t % PERIOD) < 32)
    if skip_day is not None:
        busy &= t // PERIOD != skip_day
    return 20.0 + 60.0 * busy + rng.normal(0, 2.0, len(t))


def test_the_period_of_a_cycle_is_found_and_noise_has_none():
    assert dominant_period(cycle(10), 12, 500) == PERIOD
    assert dominant_period(np.sin(np.arange(1000) * 2 * np.pi / 37), 12, 500) == 37
    rng = np.random.default_rng(1)
    assert dominant_period(rng.normal(size=2000), 12, 500) == 0
    assert dominant_period(cycle(10), 12, 40) == 0  # longer than the longest period searched
    assert dominant_period(cycle(1), 12, 500) == 0  # one day: a period needs two
    assert dominant_period(np.full(500, 3.0), 12, 200) == 0  # flat
    # several entities: the fleet's period, even when one alone is too short to show it
    assert dominant_period_of([cycle(8, seed=2), cycle(1, seed=3)], 12, 500) == PERIOD


def test_streamed_residuals_equal_the_offline_series():
    x = cycle(5)
    expected = series_residuals(x, PERIOD, 6)
    s = EntityState.new(1, 30, season_length=2 * PERIOD + 6)
    got = np.full(len(x), np.nan)
    periods = np.array([PERIOD])
    for i, v in enumerate(x):
        observe(s, MetricEvent("h", 1000 * (i + 1), {"value": float(v)}), ["value"], 0.3, 0.02)
        got[i] = residuals(s.season, s.season_pos, s.season_count, periods, 6)[0]
    assert np.isnan(got[: PERIOD + 5]).all() and np.isnan(expected[: PERIOD + 5]).all()
    np.testing.assert_allclose(got[PERIOD + 5 :], expected[PERIOD + 5 :], rtol=1e-12)

    def lagged(t: int, lag: int) -> float:
        return float(np.mean(np.abs(x[t - 5 : t + 1] - x[t - 5 - lag : t + 1 - lag])))

    assert expected[100] == pytest.approx(lagged(100, PERIOD))  # one period held: that lag only
    assert expected[200] == pytest.approx(min(lagged(200, PERIOD), lagged(200, 2 * PERIOD)))
    assert lagged(200, PERIOD) != lagged(200, 2 * PERIOD)


def test_the_reference_is_the_value_of_the_lag_that_matched_better():
    periods = np.array([4, 0])
    x = np.arange(20, dtype=float)  # a ring of 20 rows, full, next write at 0: newest row is 19
    hist = np.column_stack([x, x])
    r, ref = residuals_and_reference(hist, 0, 20, periods, 2)
    assert r[0] == 4.0 and ref[0] == 15.0  # a ramp: one period back is closer than two
    assert np.isnan(r[1]) and np.isnan(ref[1])  # no period
    hist[11, 0] = hist[19, 0] = 100.0  # rows 19 and 11 (two periods back) alike, row 15 not
    hist[10, 0], hist[18, 0] = 50.0, 50.0
    r, ref = residuals_and_reference(hist, 0, 20, periods, 2)
    assert r[0] == 0.0 and ref[0] == 100.0  # two periods back matched: its value is the reference
    np.testing.assert_array_equal(r, residuals(hist, 0, 20, periods, 2))
    hist[14, 0] = np.nan  # a missing row one period back: only two periods back counts
    r, ref = residuals_and_reference(hist, 0, 20, periods, 2)
    assert r[0] == 0.0 and ref[0] == 100.0
    hist[10, 0] = hist[19, 0] = hist[18, 0] = 100.0
    hist[15, 0] = 7.0  # whatever one period back holds, its window meets the missing row
    r, ref = residuals_and_reference(hist, 0, 20, periods, 2)
    assert r[0] == 0.0 and ref[0] == 100.0
    hist[11, 0] = np.nan  # both lags meet a missing row: no residual, no reference
    r, ref = residuals_and_reference(hist, 0, 20, periods, 2)
    assert np.isnan(r[0]) and np.isnan(ref[0])


def test_the_step_is_kept_only_for_regular_rows():
    regular = 60_000 * np.arange(1000)
    with_gap = np.concatenate([regular[:500], regular[560:]])  # an hour missing
    assert regular_step_ms([regular]) == regular_step_ms([with_gap, regular[:10]]) == 60_000
    rng = np.random.default_rng(0)
    jittered = np.cumsum(rng.choice([60_000, 90_000], size=1000, p=[0.9, 0.1]))
    assert regular_step_ms([jittered]) == 0  # 10% of the steps off: rows as they come, no grid
    assert regular_step_ms([np.array([5])]) == 0


def test_calibration_puts_training_residuals_at_zero_median_and_one_at_the_quantile():
    x = cycle(12)
    model = fit_seasonal([x[:, None]], 6, 12, 500, 0.99)
    assert model is not None and model.periods.tolist() == [PERIOD] and model.history == 2 * PERIOD + 6
    r = series_residuals(x, PERIOD, 6)
    r = r[np.isfinite(r)]
    cal = (r - model.median[0]) / (model.upper[0] - model.median[0])
    assert np.median(cal) == pytest.approx(0.0) and np.quantile(cal, 0.99) == pytest.approx(1.0)
    assert fit_seasonal([np.random.default_rng(4).normal(size=(2000, 1))], 6, 12, 500, 0.99) is None
    perfect = np.tile(np.r_[np.zeros(24), np.ones(24)], 10)[:, None]
    assert fit_seasonal([perfect], 6, 12, 500, 0.99) is None  # no residual spread to judge by
    # a metric without a period gets none, the other keeps its own
    two = np.column_stack([x, np.random.default_rng(5).normal(size=len(x))])
    both = fit_seasonal([two], 6, 12, 500, 0.99)
    assert both is not None and both.periods.tolist() == [PERIOD, 0]
    assert np.isnan(residuals(np.zeros((60, 2)), 0, 60, both.periods, 6)[1])


def test_the_stage_is_fitted_for_single_metric_models_unless_switched():
    cfg1, cfg2 = eval_config(1), eval_config(2)
    x1 = np.zeros((len(cycle(10)), 14))
    x1[:, 0] = cycle(10)  # the "last" feature carries the values
    x2 = np.zeros((len(x1), 28))
    x2[:, 0] = x2[:, 14] = x1[:, 0]
    auto = TrainParams()
    assert seasonal_stage(x1, cfg1, auto) is not None
    assert seasonal_stage(x2, cfg2, auto) is None
    assert seasonal_stage(x2, cfg2, dataclasses.replace(auto, seasonal="on")) is not None
    assert seasonal_stage(x1, cfg1, dataclasses.replace(auto, seasonal="off")) is None
    with pytest.raises(ValueError, match="auto, on or off"):
        seasonal_stage(x1, cfg1, dataclasses.replace(auto, seasonal="yes"))
    # rows of two entities interleaved: each entity's rows are its own series
    keys = ["a", "b"] * (len(x1) // 2)
    inter = np.repeat(x1[::2], 2, axis=0)
    fleet = seasonal_stage(inter, cfg1, auto, keys)
    assert fleet is not None and fleet.periods.tolist() == [PERIOD // 2]


DAILY_PARAMS = TrainParams(epochs=30, min_steps=0, members=1)


@pytest.fixture(scope="module")
def daily_fit() -> FittedModel:
    from detector.engine import featurize
    from evaluation.harness import events

    cfg = eval_config(1)
    x, _, t = featurize(
        events("h", ["value"], cycle(14)[:, None], 60_000 * np.arange(14 * PERIOD, dtype=np.int64)), cfg
    )
    return fit(x, cfg, DAILY_PARAMS, progress=False, times_ms=t)


@pytest.fixture(scope="module")
def daily_model(daily_fit: FittedModel) -> DetectionModel:
    return daily_fit.model


def test_a_model_with_a_seasonal_stage_is_exported_as_format_4_and_loads_with_it(daily_fit, tmp_path):
    out = export(daily_fit, tmp_path, eval_config(1), DAILY_PARAMS, {"source": "test"})
    model, manifest = load_model(out)
    assert manifest["format"] == MODEL_FORMAT == 4 and manifest["training_data"]["seasonal_periods"] == [
        PERIOD
    ]
    assert model.seasonal is not None and daily_fit.model.seasonal is not None
    assert model.seasonal.periods.tolist() == [PERIOD] and model.seasonal.window == 6
    assert model.seasonal.step_ms == 60_000 == manifest["training_data"]["seasonal_step_ms"]
    older = daily_fit.model.to_arrays()
    del older["seasonal.step_ms"]  # a format-4 model from before gaps were marked: none are
    loaded = DetectionModel.from_arrays(older, "v").seasonal
    assert loaded is not None and loaded.step_ms == 0
    np.testing.assert_array_equal(model.seasonal.median, daily_fit.model.seasonal.median)
    bad = daily_fit.model.to_arrays()
    bad["seasonal.periods"] = np.array([PERIOD, PERIOD])
    with pytest.raises(ValueError, match="calibration of shape \\(2, 1\\): not a model this code wrote"):
        DetectionModel.from_arrays(bad, "v")
    bad["seasonal.calibration"] = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"seasonal.periods has shape \(2,\), expected \(1,\)"):
        DetectionModel.from_arrays(bad, "v")
    bad = daily_fit.model.to_arrays()
    bad["seasonal.periods"] = np.array([10**9])  # it would size every entity's state
    with pytest.raises(ValueError, match="not a model this code wrote"):
        DetectionModel.from_arrays(bad, "v")


def _run(
    model: DetectionModel, values: np.ndarray, times_ms: np.ndarray | None = None
) -> tuple[list[dict], np.ndarray]:
    """(anomaly records, each row's seasonal score) of one entity streaming ``values`` (one a minute
    unless ``times_ms`` says when)."""
    det = EntityDetector(eval_config(1), model)
    state = det.new_state()
    records, seasonal = [], np.full(len(values), np.nan)
    times = 60_000 * (np.arange(len(values)) + 1) if times_ms is None else times_ms
    for i, v in enumerate(values):
        out = det.step(state, MetricEvent("h", int(times[i]), {"value": float(v)}), 0)
        for rec in out.scores:
            seasonal[i] = rec.get("seasonal_score", np.nan)
        records += [dict(a, row=i) for a in out.anomalies]
    return records, seasonal


def _anomalies(model: DetectionModel, values: np.ndarray) -> tuple[list[int], np.ndarray]:
    records, seasonal = _run(model, values)
    return [r["row"] for r in records], seasonal


def test_a_missing_daily_peak_is_flagged_by_the_seasonal_stage_only(daily_model):
    assert daily_model.seasonal is not None and daily_model.seasonal.periods.tolist() == [PERIOD]
    quiet_day = cycle(6, seed=9, skip_day=4)  # day 4's plateau (rows 212-223) does not come
    records, seasonal = _run(daily_model, quiet_day)
    missed = [r for r in records if 4 * PERIOD + 20 <= r["row"] < 5 * PERIOD]
    assert missed
    assert np.nanmax(seasonal[4 * PERIOD + 20 : 5 * PERIOD]) > 3 * daily_model.threshold
    # the record says why, and what was expected: the plateau of an earlier day, not the autoencoder's guess
    seasonal_driven = [r for r in missed if r["driven_by"] == "seasonal"]
    assert seasonal_driven
    for r in seasonal_driven:
        (c,) = r["contributors"]
        i = r["row"]
        assert c["metric"] == "value" and c["share"] == 1.0 and c["value"] == round(quiet_day[i], 4)
        assert c["expected"] in (round(quiet_day[i - PERIOD], 4), round(quiet_day[i - 2 * PERIOD], 4))
        if i % PERIOD < 32:  # in the plateau's hours: busy on earlier days, quiet today
            assert c["expected"] > 60 > c["value"]
    assert any(r["row"] % PERIOD < 32 for r in seasonal_driven)
    normal, _ = _anomalies(daily_model, cycle(6, seed=9))
    assert not any(r >= 2 * PERIOD for r in normal)  # the same days with the plateau: quiet once warm
    without, _ = _run(dataclasses.replace(daily_model, seasonal=None), quiet_day)
    assert not any(4 * PERIOD + 20 <= r["row"] < 5 * PERIOD for r in without)
    assert all(r["driven_by"] in ("model", "range_break") for r in without)


def test_an_anomaly_does_not_echo_one_period_later(daily_model):
    spiked = cycle(6, seed=11)
    spiked[3 * PERIOD + 5] += 40.0  # a one-row spike on day 3, in the quiet night
    rows, seasonal = _anomalies(daily_model, spiked)
    assert any(3 * PERIOD + 5 <= r <= 3 * PERIOD + 12 for r in rows)
    # a day later the same rows are compared with the day before the spike as well: nothing to report
    assert not any(4 * PERIOD <= r < 5 * PERIOD for r in rows), rows
    assert np.nanmax(seasonal[4 * PERIOD : 5 * PERIOD]) < daily_model.threshold
    one_day = series_residuals(spiked, PERIOD, 6)  # what one period alone would have scored
    lag1 = np.abs(spiked[PERIOD:] - spiked[:-PERIOD])
    assert lag1[3 * PERIOD + 5] > 30 and one_day[4 * PERIOD + 5] < lag1[3 * PERIOD + 5] / 6


def test_after_a_gap_rows_are_still_compared_with_the_same_time_of_day(daily_model):
    assert daily_model.seasonal is not None and daily_model.seasonal.step_ms == 60_000
    x = cycle(6, seed=13)
    times = 60_000 * (np.arange(len(x)) + 1)
    kept = np.ones(len(x), dtype=bool)
    kept[3 * PERIOD + 2 : 3 * PERIOD + 14] = False  # 12 minutes of day 3's night never arrive
    after = np.flatnonzero(kept)[3 * PERIOD + 2 :]  # original row of each streamed row after the gap
    records, seasonal = _run(daily_model, x[kept], times[kept])
    assert not [r for r in records if r["row"] >= 2 * PERIOD]  # quiet once warm, gap or not
    marked = np.nanmax(seasonal[3 * PERIOD + 2 :])
    # unmarked (a model without the step), the rows after the gap meet rows 12 minutes off: the plateau's
    # edges no longer line up, for a day
    unmarked = dataclasses.replace(daily_model, seasonal=dataclasses.replace(daily_model.seasonal, step_ms=0))
    records, seasonal = _run(unmarked, x[kept], times[kept])
    shifted = [after[r["row"] - (3 * PERIOD + 2)] for r in records if r["driven_by"] == "seasonal"]
    assert shifted and all(3 * PERIOD + 14 <= i < 5 * PERIOD for i in shifted)
    assert np.nanmax(seasonal[3 * PERIOD + 2 :]) > 5 * marked


def test_a_reloaded_model_with_another_period_keeps_the_entity_state_usable(daily_model):
    det = EntityDetector(eval_config(1), daily_model)
    state = det.new_state()
    for i, v in enumerate(cycle(3)):
        det.step(state, MetricEvent("h", 60_000 * (i + 1), {"value": float(v)}), 0)
    assert state.season_length == 2 * PERIOD + 6 and state.season_count == 2 * PERIOD + 6
    assert daily_model.seasonal is not None
    longer = dataclasses.replace(
        daily_model,
        seasonal=SeasonalModel(
            np.array([3 * PERIOD]), daily_model.seasonal.median, daily_model.seasonal.upper, 6
        ),
    )
    other = EntityDetector(eval_config(1), longer)
    out = other.step(state, MetricEvent("h", 60_000 * 200, {"value": 20.0}), 0)
    assert state.season_length == 6 * PERIOD + 6 and state.season_count == 2 * PERIOD + 6 + 1
    assert "seasonal_score" not in out.scores[0]  # not enough history for the longer period yet
    assert EntityState.from_bytes(state.to_bytes()).season_count == state.season_count
