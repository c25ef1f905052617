import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import MetricEvent
from detector.features import N_PER_METRIC, compute_features, feature_names
from detector.windows import EntityState, LateEvent, flush_pending, observe

M = ["a", "b"]


def ev(t, **values):
    return MetricEvent("k", t, values)


def test_wide_event_completes_a_row_at_once():
    s = EntityState.new(2, 5)
    rows = observe(s, ev(1000, a=1.0, b=2.0), M, 0.3, 0.02)
    assert len(rows) == 1 and rows[0].values.tolist() == [1.0, 2.0] and s.count == 1


def test_narrow_events_merge_and_complete_on_a_later_timestamp():
    s = EntityState.new(2, 5)
    assert observe(s, ev(1000, a=1.0), M, 0.3, 0.02) == []
    rows = observe(s, ev(1000, b=2.0), M, 0.3, 0.02)
    assert [r.timestamp_ms for r in rows] == [1000]
    assert observe(s, ev(2000, a=5.0), M, 0.3, 0.02) == []
    rows = observe(s, ev(3000, a=6.0), M, 0.3, 0.02)  # b missing at 2000: forward-filled
    assert rows[0].values.tolist() == [5.0, 2.0] and rows[0].observed.tolist() == [True, False]
    last = flush_pending(s, 0.3, 0.02)
    assert last is not None and last.values.tolist() == [6.0, 2.0]


def test_late_events_are_refused_without_touching_state():
    s = EntityState.new(2, 5)
    observe(s, ev(2000, a=1.0, b=1.0), M, 0.3, 0.02)
    before = s.to_bytes()
    with pytest.raises(LateEvent):
        observe(s, ev(1000, a=9.0, b=9.0), M, 0.3, 0.02)
    with pytest.raises(LateEvent):
        observe(s, ev(2000, a=9.0, b=9.0), M, 0.3, 0.02)  # duplicate
    assert s.to_bytes() == before


def test_metric_never_seen_keeps_entity_warming_up():
    s = EntityState.new(2, 5)
    for t in range(10):
        observe(s, ev(1000 * (t + 1), a=1.0), M, 0.3, 0.02)
    flush_pending(s, 0.3, 0.02)
    assert s.count == 0
    observe(s, ev(20_000, a=1.0, b=1.0), M, 0.3, 0.02)
    assert s.count == 1 and np.isfinite(s.ring).all()


def test_state_bytes_round_trip_and_are_compact():
    s = EntityState.new(5, 30)
    for t in range(40):
        observe(s, MetricEvent("k", 1000 * (t + 1), {m: float(t) for m in "abcde"}), list("abcde"), 0.3, 0.02)
    s.alert_flags = 0b101
    data = s.to_bytes()
    back = EntityState.from_bytes(data)
    assert len(data) < 2048
    assert back.to_bytes() == data
    np.testing.assert_allclose(back.window(), s.window(), rtol=1e-6)


def test_features_are_named_and_follow_the_window():
    s = EntityState.new(1, 10)
    for t in range(10):
        observe(s, MetricEvent("k", 1000 * (t + 1), {"a": float(t)}), ["a"], 0.3, 0.02)
    f = dict(zip(feature_names(["a"]), compute_features(s, 4), strict=True))
    assert len(f) == N_PER_METRIC
    assert f["a.last"] == 9.0 and f["a.max_short"] == 9.0 and f["a.min_short"] == 6.0
    assert f["a.slope_short"] == pytest.approx(1.0) and f["a.slope_long"] == pytest.approx(1.0)
    assert f["a.mean_long"] == pytest.approx(4.5)


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(0, 5000), st.sampled_from(["a", "b"]), st.floats(-1e12, 1e12)),
        min_size=1,
        max_size=80,
    )
)
def test_windows_never_produce_nan_features(steps):
    s = EntityState.new(2, 6)
    t = 0
    for gap, metric, value in steps:
        t += gap
        try:
            observe(s, ev(t, **{metric: value}), M, 0.3, 0.02)
        except LateEvent:
            continue
        if s.count >= 6:
            assert np.isfinite(compute_features(s, 3)).all()


# header bytes after ``quiet`` each older format kept: S4 break_quiet, S5 calm, S7 the seasonal fields
_AFTER_QUIET = {b"S1": 0, b"S2": 0, b"S3": 0, b"S4": 1, b"S5": 2, b"S7": 2 + struct.calcsize("<IIIq")}
_S8_HEADER = struct.calcsize("<HHqqIIBBBBIIIqB")
_S9_HEADER = struct.calcsize("<HHqqIIBBBBIIIqBIIq")


def s8_of(current: bytes) -> bytes:
    """A current (S9) state without a drift offset as S8 wrote it: no drift fields in the header."""
    assert current[:2] == b"S9"
    return b"S8" + current[2 : 2 + _S8_HEADER] + current[2 + _S9_HEADER :]


def without_runs(body: bytes, n_metrics: int, season_rows: int) -> bytes:
    """A state's arrays without the two run arrays S8 added (between the range and the seasonal rows)."""
    season = season_rows * n_metrics * 4
    end = len(body) - season
    return body[: end - 2 * n_metrics * 4] + body[end:]


def as_format(magic: bytes, current: bytes, dropped_arrays: int) -> bytes:
    """A current (S9) state without seasonal history or drift offset in an older format: its header without
    the fields that format lacks (S1-S3: break_quiet and calm; S4: calm; S1-S5: the seasonal fields), and
    without the run arrays and the last ``dropped_arrays`` per-metric arrays before them (2 metrics here)."""
    current = s8_of(current)
    to_quiet = 2 + struct.calcsize("<HHqqIIBB")
    body = without_runs(current[2 + _S8_HEADER :], 2, 0)
    kept = current[2 : to_quiet + _AFTER_QUIET[magic]]
    return magic + kept + body[: len(body) - dropped_arrays * 2 * 4]


def test_state_saved_before_contributor_smoothing_still_loads():
    s = EntityState.new(2, 5)
    for t in range(7):
        observe(s, ev(1000 * (t + 1), a=float(t), b=1.0), M, 0.3, 0.02)
    new = s.to_bytes()
    # format S1: the same layout without the trailing ``contrib`` array
    old = as_format(b"S1", new, dropped_arrays=3)  # contrib, seen_low, seen_high
    back = EntityState.from_bytes(old)
    np.testing.assert_allclose(back.window(), s.window(), rtol=1e-6)
    assert back.contrib.tolist() == [0.0, 0.0] and back.count == s.count
    with pytest.raises(ValueError, match="unknown entity state format"):
        EntityState.from_bytes(b"S0" + new[2:])
    with pytest.raises(
        ValueError,
        match=r"entity state of \d+ bytes; format S9 with 2 metrics, 5 rows, 0 seasonal rows and 0 drift",
    ):
        EntityState.from_bytes(new[:-4])  # truncated


def test_state_saved_before_the_streamed_range_still_loads_with_the_ring_as_its_range():
    s = EntityState.new(2, 5)
    s.seen_low[:] = [-9.0, -9.0]
    s.seen_high[:] = [9.0, 9.0]
    for t in range(7):
        observe(s, ev(1000 * (t + 1), a=float(t), b=1.0), M, 0.3, 0.02)
    new = s.to_bytes()
    assert EntityState.from_bytes(new).seen_high.tolist() == [9.0, 9.0]
    old = as_format(b"S2", new, dropped_arrays=2)  # format S2: without the two range arrays
    back = EntityState.from_bytes(old)
    assert back.seen_low.tolist() == [2.0, 1.0] and back.seen_high.tolist() == [6.0, 1.0]  # the ring's rows
    np.testing.assert_allclose(back.window(), s.window(), rtol=1e-6)
    empty = EntityState.new(2, 5).to_bytes()
    assert np.isnan(EntityState.from_bytes(as_format(b"S2", empty, dropped_arrays=2)).seen_low).all()


def test_state_keeps_the_range_break_counter_and_loads_s3_without_it():
    s = EntityState.new(2, 5)
    for t in range(7):
        observe(s, ev(1000 * (t + 1), a=float(t), b=1.0), M, 0.3, 0.02)
    s.quiet, s.break_quiet = 4, 9
    s.seen_high[:] = [7.0, 8.0]
    new = s.to_bytes()
    back = EntityState.from_bytes(new)
    assert (back.quiet, back.break_quiet) == (4, 9)
    # S3: no counter, as if no break yet
    old = EntityState.from_bytes(as_format(b"S3", new, dropped_arrays=0))
    assert (old.quiet, old.break_quiet, old.seen_high.tolist()) == (4, 255, [7.0, 8.0])
    np.testing.assert_allclose(old.window(), s.window(), rtol=1e-6)


def test_state_keeps_the_calm_counter_and_loads_s4_with_every_quiet_row_as_calm():
    s = EntityState.new(2, 5)
    for t in range(7):
        observe(s, ev(1000 * (t + 1), a=float(t), b=1.0), M, 0.3, 0.02)
    s.quiet, s.break_quiet, s.calm = 40, 9, 12
    new = s.to_bytes()
    assert new[:2] == b"S9"
    back = EntityState.from_bytes(new)
    assert (back.quiet, back.break_quiet, back.calm) == (40, 9, 12)
    old = EntityState.from_bytes(as_format(b"S4", new, dropped_arrays=0))  # S4: no calm counter
    assert (old.quiet, old.break_quiet, old.calm) == (40, 9, 40)
    np.testing.assert_allclose(old.window(), s.window(), rtol=1e-6)


def test_state_keeps_its_seasonal_history_and_loads_s5_without_one():
    s = EntityState.new(2, 5, season_length=4)
    for t in range(6):
        observe(s, ev(1000 * (t + 1), a=float(t), b=10.0 + t), M, 0.3, 0.02)
    assert (s.season_count, s.season_pos) == (4, 2)  # six rows through a ring of four
    assert s.to_bytes()[:2] == b"S9"
    back = EntityState.from_bytes(s.to_bytes())
    assert (back.season_length, back.season_pos, back.season_count) == (4, 2, 4)
    np.testing.assert_array_equal(back.season, s.season)
    # a row after a gap of whole steps (here 3,000 ms at a 1,000 ms step: two skipped) keeps their places
    gap = EntityState.new(2, 5, season_length=6)
    for t in (1, 2, 5, 6):
        observe(gap, ev(1000 * t, a=float(t), b=1.0), M, 0.3, 0.02, season_step_ms=1000)
    assert (gap.season_count, gap.season_pos) == (6, 0)
    np.testing.assert_array_equal(gap.season[:, 0], [1.0, 2.0, np.nan, np.nan, 5.0, 6.0])
    np.testing.assert_array_equal(EntityState.from_bytes(gap.to_bytes()).season, gap.season)
    observe(gap, ev(60_000, a=7.0, b=1.0), M, 0.3, 0.02, season_step_ms=1000)  # longer than the history
    assert np.isnan(gap.season[:, 0]).sum() == 5 and gap.season[gap.season_pos - 1, 0] == 7.0
    # jitter does not add up: each row goes to its nearest step; a late row (3,500) marks the step it
    # skipped, and a row in the same step (4,000) takes its place, so later rows stay on the grid
    grid = EntityState.new(2, 5, season_length=8)
    for t in (1000, 2000, 3500, 4000, 5000, 6400):
        observe(grid, ev(t, a=t / 1000, b=1.0), M, 0.3, 0.02, season_step_ms=1000)
    assert (grid.season_count, grid.season_pos) == (6, 6)
    np.testing.assert_array_equal(grid.season[:6, 0], [1.0, 2.0, np.nan, 4.0, 5.0, 6.4])
    # the grid is the entity's own: rows half a step off the clock's seconds, with jitter, stay one per step
    rng = np.random.default_rng(3)
    half = EntityState.new(2, 5, season_length=64)
    for k in range(50):
        t = 1000 * k + 500 + int(rng.integers(-40, 41))
        observe(half, ev(t, a=float(k), b=1.0), M, 0.3, 0.02, season_step_ms=1000)
    assert half.season_count == 50 and not np.isnan(half.season[:50]).any()
    np.testing.assert_array_equal(half.season[:50, 0], np.arange(50.0))
    back = EntityState.from_bytes(half.to_bytes())
    assert back.season_anchor_ms == half.season_anchor_ms > 0
    # an S6 state (before the anchor) loads, and anchors again at its next row
    data = s8_of(half.to_bytes())
    s6 = EntityState.from_bytes(  # header without the anchor and the frozen flag, arrays without the runs
        b"S6" + data[2 : 2 + _S8_HEADER - 9] + without_runs(data[2 + _S8_HEADER :], 2, 64)
    )
    assert s6.season_anchor_ms == -1 and s6.season_count == 50
    np.testing.assert_array_equal(s6.season, half.season)
    observe(s6, ev(50_510, a=50.0, b=1.0), M, 0.3, 0.02, season_step_ms=1000)
    assert s6.season_anchor_ms > 0 and s6.season_count == 51 and s6.season[50, 0] == 50.0
    plain = EntityState.new(2, 5)
    for t in range(3):
        observe(plain, ev(1000 * (t + 1), a=float(t), b=1.0), M, 0.3, 0.02)
    plain.calm = 7
    assert plain.to_bytes()[:2] == b"S9"
    old = EntityState.from_bytes(plain.to_bytes())
    assert old.season_length == 0 and old.season_count == 0 and old.calm == 7
    np.testing.assert_allclose(old.window(), plain.window(), rtol=1e-6)
    with pytest.raises(ValueError, match="4 seasonal rows"):
        EntityState.from_bytes(s.to_bytes()[:-4])
    bad = bytearray(s.to_bytes())
    struct.pack_into("<I", bad, 2 + struct.calcsize("<HHqqIIBBBBI"), 4)  # position past the history
    with pytest.raises(ValueError, match="seasonal position 4 and count 4 in a history of 4 rows"):
        EntityState.from_bytes(bytes(bad))


def test_resizing_the_seasonal_history_keeps_the_newest_rows_in_order():
    s = EntityState.new(1, 3, season_length=5)
    for t in range(7):  # rows 0..6; the ring holds 2..6
        observe(s, ev(1000 * (t + 1), a=float(t)), ["a"], 0.3, 0.02)
    s.resize_season(3)
    assert (s.season_count, s.season_pos) == (3, 0)
    assert s.season[:, 0].tolist() == [4.0, 5.0, 6.0]
    s.resize_season(6)  # longer: the three rows it has, then room for three more
    assert (s.season_count, s.season_pos) == (3, 3)
    observe(s, ev(8000, a=7.0), ["a"], 0.3, 0.02)
    assert s.season[:4, 0].tolist() == [4.0, 5.0, 6.0, 7.0] and s.season_count == 4
    s.resize_season(0)
    assert s.season_length == 0 and s.season_count == 0


def test_state_counts_runs_of_unchanged_values_across_a_round_trip_and_loads_s7_without_them():
    s = EntityState.new(2, 5)
    for t, a in enumerate([1.0, 1.0, 1.0, 2.0, 2.0, 0.1]):
        observe(s, ev(1000 * (t + 1), a=a, b=5.0), M, 0.3, 0.02)
    assert s.run.tolist() == [1.0, 6.0] and s.run_longest.tolist() == [3.0, 0.0]
    back = EntityState.from_bytes(s.to_bytes())
    # 0.1 is stored as float32: the same value streamed again continues the run after the restore
    observe(back, ev(7000, a=0.1, b=5.0), M, 0.3, 0.02)
    assert back.run.tolist() == [2.0, 7.0] and back.run_longest.tolist() == [3.0, 0.0]
    # a metric not observed in a row repeats its last value: it counts as unchanged
    observe(back, ev(8000, a=0.7), M, 0.3, 0.02)
    observe(back, ev(9000, a=0.8), M, 0.3, 0.02)
    assert back.run.tolist() == [1.0, 8.0] and back.run_longest.tolist() == [3.0, 0.0]
    s.frozen = 1
    assert EntityState.from_bytes(s.to_bytes()).frozen == 1
    # S7 (before the runs): the current run counts from the restore, no run finished yet, not frozen
    old = EntityState.from_bytes(as_format(b"S7", s.to_bytes(), dropped_arrays=0))
    assert old.run.tolist() == [1.0, 1.0] and old.run_longest.tolist() == [0.0, 0.0] and old.frozen == 0
    assert EntityState.from_bytes(as_format(b"S7", EntityState.new(2, 5).to_bytes(), 0)).run.tolist() == [
        0.0,
        0.0,
    ]


def test_state_keeps_its_drift_offset_and_loads_s8_without_one():
    s = EntityState.new(2, 5)
    for t in range(7):
        observe(s, ev(1000 * (t + 1), a=float(t), b=1.0), M, 0.3, 0.02)
    plain = s.to_bytes()
    s.drift, s.drift_model, s.drift_ms = np.array([0.5, -1.25, 3.0]), 0xDEADBEEF, 7000
    data = s.to_bytes()
    assert len(data) == len(plain) + 3 * 8  # float64
    back = EntityState.from_bytes(data)
    assert back.drift.tolist() == [0.5, -1.25, 3.0] and (back.drift_model, back.drift_ms) == (
        0xDEADBEEF,
        7000,
    )
    np.testing.assert_allclose(back.window(), s.window(), rtol=1e-6)
    old = EntityState.from_bytes(s8_of(plain))  # S8: no offset yet
    assert old.drift.shape == (0,) and (old.drift_model, old.drift_ms) == (0, -1)
    np.testing.assert_allclose(old.window(), s.window(), rtol=1e-6)
    with pytest.raises(ValueError, match="3 drift offsets"):
        EntityState.from_bytes(data[:-8])
    s.drift = np.array([10.0 + 1e-9])  # float64 on the wire: an increment float32 would round away
    assert EntityState.from_bytes(s.to_bytes()).drift[0] == 10.0 + 1e-9
